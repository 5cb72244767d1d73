"""Creating the ERP stand-in database (schema and demo data)."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.erp.sage500 import create_schema, seed_demo


def init_erp(engine: sa.Engine, *, erp: str, company_id: str, demo: bool) -> bool:
    """Create the stand-in schema of an ERP, and its demo data when asked and still empty.

    Args:
        engine: the ERP database.
        erp: which ERP (``sage500``).
        company_id: the company to seed.
        demo: seed demo customers and open invoices.

    Returns:
        True when demo data was written by this call.
    """
    if erp != "sage500":
        raise ValueError(f"no stand-in for ERP {erp!r} yet")
    create_schema(engine)
    if not demo:
        return False
    return seed_demo(engine, company_id=company_id).created
