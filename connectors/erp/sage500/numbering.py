"""Keys and numbers taken the way Sage 500 takes them: increment a counter row under a lock.

Each counter is bumped with ``UPDATE ... SET n = n + k`` first and read back second. The UPDATE
takes the row lock (PostgreSQL, SQL Server) and holds it to the end of the transaction, so two
writers can never hand out the same number; on SQLite the write transaction serializes writers.
"""

from __future__ import annotations

import sqlalchemy as sa

from connectors.erp.errors import ErpBusinessError
from connectors.erp.sage500.schema import tciBatchTypCompany, tciSurrogateKey, tciTranTypeCompany


def next_surrogate_block(conn: sa.Connection, table_name: str, count: int) -> int:
    """Reserve ``count`` consecutive surrogate keys for a table and return the first.

    This is what ``spGetNextSurrogateKey`` (one key) and ``spGetNextBlockSurrogateKey`` (a block)
    do against their counter table.

    Args:
        conn: a connection inside the caller's transaction.
        table_name: the Sage table whose key is wanted, e.g. ``"tarCustPmt"``.
        count: how many keys, at least 1.

    Returns:
        The first key of the block; the block is ``first .. first + count - 1``.

    Raises:
        ErpBusinessError: if the counter row for the table is missing.
        ValueError: if ``count`` is below 1.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    counter = tciSurrogateKey.c
    bumped = conn.execute(
        sa.update(tciSurrogateKey)
        .where(counter.TableName == table_name)
        .values(NextKey=counter.NextKey + count)
    )
    if bumped.rowcount != 1:
        raise ErpBusinessError(
            f"no surrogate key counter for table {table_name} in tciSurrogateKey"
        )
    after = conn.execute(
        sa.select(counter.NextKey).where(counter.TableName == table_name)
    ).scalar_one()
    return int(after) - count


def next_surrogate_keys(conn: sa.Connection, table_name: str, count: int = 1) -> list[int]:
    """Take ``count`` consecutive surrogate keys for a table.

    Args:
        conn: a connection inside the caller's transaction.
        table_name: the Sage table whose key is wanted.
        count: how many keys; 0 gives an empty list.

    Returns:
        The keys, ascending.
    """
    if count == 0:
        return []
    first = next_surrogate_block(conn, table_name, count)
    return list(range(first, first + count))


def next_batch_no(conn: sa.Connection, company_id: str, batch_type: int) -> tuple[int, str]:
    """Take the next batch number of a batch type (``tciBatchTypCompany.NextBatchNo``).

    Args:
        conn: a connection inside the caller's transaction.
        company_id: the Sage company.
        batch_type: e.g. 503 for cash receipts.

    Returns:
        The batch number and the batch type's two-letter ``BatchTypeID``.

    Raises:
        ErpBusinessError: if the batch type is not set up for the company.
    """
    row_c = tciBatchTypCompany.c
    where = sa.and_(row_c.CompanyID == company_id, row_c.BatchType == batch_type)
    bumped = conn.execute(
        sa.update(tciBatchTypCompany).where(where).values(NextBatchNo=row_c.NextBatchNo + 1)
    )
    if bumped.rowcount != 1:
        raise ErpBusinessError(
            f"batch type {batch_type} is not set up for company {company_id} (tciBatchTypCompany)"
        )
    row = conn.execute(sa.select(row_c.NextBatchNo, row_c.BatchTypeID).where(where)).one()
    return int(row.NextBatchNo) - 1, str(row.BatchTypeID)


def next_tran_no(conn: sa.Connection, company_id: str, tran_type: int) -> tuple[int, str]:
    """Take the next document number of a document type (``tciTranTypeCompany.NextTranNo``).

    Args:
        conn: a connection inside the caller's transaction.
        company_id: the Sage company.
        tran_type: e.g. 510 for customer payments.

    Returns:
        The document number and the type's two-letter ``TranTypeID``.

    Raises:
        ErpBusinessError: if the document type is not set up for the company.
    """
    row_c = tciTranTypeCompany.c
    where = sa.and_(row_c.CompanyID == company_id, row_c.TranType == tran_type)
    bumped = conn.execute(
        sa.update(tciTranTypeCompany).where(where).values(NextTranNo=row_c.NextTranNo + 1)
    )
    if bumped.rowcount != 1:
        raise ErpBusinessError(
            f"document type {tran_type} is not set up for company {company_id} (tciTranTypeCompany)"
        )
    row = conn.execute(sa.select(row_c.NextTranNo, row_c.TranTypeID).where(where)).one()
    return int(row.NextTranNo) - 1, str(row.TranTypeID)
