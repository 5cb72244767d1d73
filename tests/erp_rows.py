"""Reading an ERP's own tables in tests, to check what tracepost's read-back cannot vouch for."""

from __future__ import annotations

import sqlalchemy as sa


def posted_payments(engine: sa.Engine, erp: str, transaction_id: int) -> int:
    """How many posted customer payments carry ``PT <transaction id>`` in the ERP's own tables.

    Args:
        engine: the ERP database.
        erp: ``sage500`` or ``dynamics_sl``.
        transaction_id: the PayTrace transaction id.

    Returns:
        The count (1 when a payment was posted exactly once).
    """
    tag = f"PT {transaction_id}"
    if erp == "sage500":
        from connectors.erp.sage500.schema import tarCustPmt

        query = sa.select(sa.func.count()).where(tarCustPmt.c.TranCmnt.contains(tag))
    elif erp == "dynamics_sl":
        from connectors.erp.dynamics_sl.ar_schema import ARDoc

        doc = ARDoc.c
        query = sa.select(sa.func.count()).where(
            doc.DocType == "PA",
            doc.Rlsed == 1,
            sa.or_(sa.func.rtrim(doc.DocDesc) == tag, doc.DocDesc.startswith(f"{tag} ")),
        )
    else:
        raise ValueError(f"posted_payments: unknown ERP {erp!r}")
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
