"""Reading (and, for test setup, changing) an ERP's own tables, where tracepost's read-back
cannot vouch for what the ERP holds."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.erp.tags import paytrace_tag
from domain.models import PaymentSource


def posted_payments(
    engine: sa.Engine,
    erp: str,
    transaction_id: int,
    source: PaymentSource = PaymentSource.CARD,
) -> int:
    """How many posted customer payments carry the payment's tag in the ERP's own tables.

    Args:
        engine: the ERP database.
        erp: ``sage500`` or ``dynamics_sl``.
        transaction_id: the PayTrace transaction id (card) or check transaction id (ACH).
        source: card (``PT <id>``) or ACH (``PT ACH <id>``).

    Returns:
        The count (1 when a payment was posted exactly once).
    """
    tag = paytrace_tag(transaction_id, source)
    if erp == "sage500":
        from connectors.erp.sage500.schema import tarCustPmt

        # "PT 5000001" is no part of "PT ACH 5000001", nor the other way round.
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


def receipt_cash_accounts(engine: sa.Engine, erp: str, erp_document: str) -> set[str]:
    """The GL account numbers a receipt's own ERP rows deposit it to.

    Sage 500: the ``tglAccount.GLAcctNo`` behind ``CashAcctKey`` of the payment (pending or
    posted) and of its ``tarBatch``; Dynamics SL: ``ARDoc.BankAcct`` of the payment (``PA``).

    Args:
        engine: the ERP database.
        erp: ``sage500`` or ``dynamics_sl``.
        erp_document: the receipt's number (Sage TranID, SL RefNbr).

    Returns:
        The account numbers found (one when the rows agree).
    """
    with engine.connect() as conn:
        if erp == "sage500":
            from connectors.erp.sage500.schema import (
                tarBatch,
                tarCustPmt,
                tarPendCustPmt,
                tcmCashAcct,
                tglAccount,
            )

            found: set[str] = set()
            for table in (tarPendCustPmt, tarCustPmt):
                for cash_key, batch_key in conn.execute(
                    sa.select(table.c.CashAcctKey, table.c.BatchKey).where(
                        table.c.TranID == erp_document
                    )
                ):
                    batch_cash = conn.execute(
                        sa.select(tarBatch.c.CashAcctKey).where(tarBatch.c.BatchKey == batch_key)
                    ).scalar_one()
                    for key in (cash_key, batch_cash):
                        found.add(
                            str(
                                conn.execute(
                                    sa.select(tglAccount.c.GLAcctNo)
                                    .join(
                                        tcmCashAcct,
                                        tcmCashAcct.c.GLAcctKey == tglAccount.c.GLAcctKey,
                                    )
                                    .where(tcmCashAcct.c.CashAcctKey == key)
                                ).scalar_one()
                            ).strip()
                        )
            return found
        if erp == "dynamics_sl":
            from connectors.erp.dynamics_sl.ar_schema import ARDoc

            doc = ARDoc.c
            return {
                str(acct).strip()
                for (acct,) in conn.execute(
                    sa.select(doc.BankAcct).where(
                        doc.DocType == "PA", doc.RefNbr == erp_document.ljust(10)
                    )
                )
            }
    raise ValueError(f"receipt_cash_accounts: unknown ERP {erp!r}")


def set_gl_account_active(engine: sa.Engine, erp: str, account: str, active: bool) -> None:
    """Make a GL account active or inactive the way an ERP user does in account maintenance.

    Sage 500: ``tglAccount.Status`` 1 / 2; Dynamics SL: ``Account.Active`` 1 / 0.

    Args:
        engine: the ERP database.
        erp: ``sage500`` or ``dynamics_sl``.
        account: the account number.
        active: the new state.
    """
    with engine.begin() as conn:
        if erp == "sage500":
            from connectors.erp.sage500.schema import tglAccount

            done = conn.execute(
                sa.update(tglAccount)
                .where(tglAccount.c.GLAcctNo == account)
                .values(Status=1 if active else 2)
            )
        elif erp == "dynamics_sl":
            from connectors.erp.dynamics_sl.ledger_schema import Account

            done = conn.execute(
                sa.update(Account)
                .where(Account.c.Acct == account.ljust(10))
                .values(Active=1 if active else 0)
            )
        else:
            raise ValueError(f"set_gl_account_active: unknown ERP {erp!r}")
    assert done.rowcount >= 1, f"no GL account {account} in {erp}"
