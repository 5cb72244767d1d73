"""Creating an ERP stand-in database (schema and demo data), for any supported ERP."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from connectors.erp.standin import SeedResult, stand_in

DEMO_CUSTOMERS = 300
DEMO_INVOICES = 1200


@dataclass(frozen=True)
class DemoSize:
    """How much demo data to seed: totals, the well-known customers and invoices included."""

    customers: int = DEMO_CUSTOMERS
    invoices: int = DEMO_INVOICES


def erp_company(erp: str, company_id: str) -> str:
    """The company to use: the configured one, else the stand-in's demo company.

    Args:
        erp: ``sage500`` or ``dynamics_sl``.
        company_id: the configured company id, possibly blank.

    Returns:
        The company id.
    """
    return company_id or stand_in(erp).default_company


def init_erp(
    engine: sa.Engine, *, erp: str, company_id: str, demo: bool, size: DemoSize | None = None
) -> SeedResult:
    """Create the stand-in schema of an ERP, and its demo data when asked and still empty.

    Args:
        engine: the ERP database.
        erp: which ERP (``sage500`` or ``dynamics_sl``).
        company_id: the company to seed; blank for the stand-in's demo company.
        demo: seed demo customers and open invoices.
        size: how much demo data; 300 customers and 1,200 invoices by default.

    Returns:
        What was seeded (``created`` False when nothing was).
    """
    standin = stand_in(erp)
    standin.create_schema(engine)
    if not demo:
        return SeedResult(created=False)
    size = size or DemoSize()
    return standin.seed_demo(
        engine,
        company_id=erp_company(erp, company_id),
        customers=size.customers,
        invoices=size.invoices,
    )
