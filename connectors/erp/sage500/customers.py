"""Customer reads and writes: get, find, upsert, link the PayTrace id, changes since a cursor.

Writes follow Maintain Customers: a new customer is a ``tarCustomer`` row with its primary
address (``tciAddress`` + ``tarCustAddr``, also the default bill-to and ship-to) and, when an
e-mail or phone is given, its primary contact (``tciContact``). Updates touch only ERP-owned
fields the profile carries (blank means "keep"), bump ``UpdateCounter`` and stamp
``UpdateDate``/``UpdateUserID`` on every changed row, and always on ``tarCustomer`` so
``customers_changed_since`` sees the change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import CustomerNotUsableError, ErpBusinessError
from connectors.erp.guard import erp_guard
from connectors.erp.locks import lock_rows, write_transaction
from connectors.erp.sage500 import codes
from connectors.erp.sage500.customer_rows import address_values, detail_select, to_detail
from connectors.erp.sage500.lookups import AnyRow
from connectors.erp.sage500.numbering import next_surrogate_block
from connectors.erp.sage500.schema import (
    blank_insensitive,
    tarCustAddr,
    tarCustomer,
    tciAddress,
    tciContact,
    tciPaymentTerms,
    tsmCompany,
)
from connectors.erp.sage500.settings import ERP_LABEL, SageSettings
from domain.erp_documents import CustomerChanges, CustomerDetail, CustomerProfile

CUST_ID_WIDTH = 12
PT_ID_WIDTH = 15
CREDIT_LIMIT_DEFAULT = 0


def _detail_select(s: SageSettings) -> sa.Select[Any]:
    """``detail_select`` with the settings' PayTrace id, autopay and card fields."""
    return detail_select(s.paytrace_id_field, s.autopay_field, s.card_field)


def get_customer(engine: sa.Engine, s: SageSettings, customer_id: str) -> CustomerDetail | None:
    """A customer with every ERP-owned field, by ``CustID``."""
    with erp_guard(ERP_LABEL, "get_customer"), engine.connect() as conn:
        return _get(conn, s, customer_id)


def _get(conn: sa.Connection, s: SageSettings, customer_id: str) -> CustomerDetail | None:
    cust = tarCustomer.c
    row = conn.execute(
        _detail_select(s).where(cust.CompanyID == s.company_id, cust.CustID == customer_id.strip())
    ).first()
    return to_detail(row) if row is not None else None


def find_customers(
    engine: sa.Engine,
    s: SageSettings,
    *,
    paytrace_customer_id: str = "",
    email: str = "",
    name: str = "",
) -> list[CustomerDetail]:
    """Customers matching the first criterion given (PayTrace id, else e-mail, else name).

    E-mail and name compare case-insensitively and ignore surrounding blanks, through the
    expression indexes ``lower(trim(EMailAddr))`` and ``lower(trim(CustName))`` (on SQL Server
    the case-insensitive collation does the same with plain indexes). An e-mail matches any of a
    customer's contacts, not only the primary one.
    """
    cust = tarCustomer.c
    where: sa.ColumnElement[bool]
    if paytrace_customer_id.strip():
        where = cust[s.paytrace_id_field] == paytrace_customer_id.strip()
    elif email.strip():
        contact = tciContact.c
        owners = sa.select(contact.CntctOwnerKey).where(
            contact.EntityType == codes.ENTITY_TYPE_CUSTOMER,
            blank_insensitive(contact.EMailAddr) == email.strip().lower(),
        )
        where = cust.CustKey.in_(owners)
    elif name.strip():
        where = blank_insensitive(cust.CustName) == name.strip().lower()
    else:
        return []
    with erp_guard(ERP_LABEL, "find_customers"), engine.connect() as conn:
        # Sorted here, not in SQL: an ORDER BY CustID would tempt the planner into walking the
        # (CompanyID, CustID) key instead of the selective lookup index.
        rows = conn.execute(_detail_select(s).where(cust.CompanyID == s.company_id, where)).all()
    return sorted((to_detail(r) for r in rows), key=lambda d: d.customer_id)


def upsert_customer(engine: sa.Engine, s: SageSettings, profile: CustomerProfile) -> CustomerDetail:
    """Create the customer, or update the ERP-owned fields its profile carries.

    Raises:
        ErpBusinessError: the id does not fit, the terms id is unknown, or the PayTrace id is
            already on another customer.
        ErpUnavailableError: the database could not be reached (retryable).
    """
    cust_id = profile.customer_id.strip()
    if not cust_id or len(cust_id) > CUST_ID_WIDTH:
        raise ErpBusinessError(
            f"customer id {profile.customer_id!r} must be 1 to {CUST_ID_WIDTH} characters"
        )
    if not profile.name.strip():
        raise ErpBusinessError(f"customer {cust_id}: a name is required")
    check_paytrace_id(s, profile.paytrace_customer_id.strip())
    try:
        return _upsert(engine, s, profile, cust_id)
    except sa.exc.IntegrityError:
        # A racing writer created the same CustID first: now it exists, so this is an update.
        return _upsert(engine, s, profile, cust_id)


def check_paytrace_id(s: SageSettings, pt_id: str) -> None:
    """Refuse a PayTrace customer id that does not fit the user field (``varchar(15)``).

    Cut, it would be another customer's id (or match one); stored whole, the database refuses
    the write with a raw error.

    Raises:
        ErpBusinessError: the id is too long.
    """
    if len(pt_id) > PT_ID_WIDTH:
        raise ErpBusinessError(
            f"PayTrace customer id {pt_id!r} must be 1 to {PT_ID_WIDTH} characters to fit"
            f" tarCustomer.{s.paytrace_id_field}"
        )


def _upsert(
    engine: sa.Engine, s: SageSettings, profile: CustomerProfile, cust_id: str
) -> CustomerDetail:
    with erp_guard(ERP_LABEL, "upsert_customer"), write_transaction(engine) as conn:
        if profile.paytrace_customer_id.strip():
            _lock_company(conn, s)  # first: the customer read below must follow a racer's commit
        row = _lock_customer(conn, s, cust_id)
        if profile.paytrace_customer_id.strip():
            _refuse_taken(conn, s, profile.paytrace_customer_id, int(row.CustKey) if row else None)
        if row is None:
            _create(conn, s, profile)
        else:
            _update(conn, s, row, profile)
        detail = _get(conn, s, cust_id)
    assert detail is not None
    return detail


def link_paytrace_customer(
    engine: sa.Engine, s: SageSettings, customer_id: str, paytrace_customer_id: str
) -> CustomerDetail:
    """Store the PayTrace customer id in the configured user field (idempotent).

    Links are serialized per company (a lock on the ``tsmCompany`` row), so two links of the same
    PayTrace id to different customers cannot both pass the "already taken" check.

    Raises:
        CustomerNotUsableError: the customer does not exist.
        ErpBusinessError: the id is blank or too long, or another customer holds it.
    """
    pt_id = paytrace_customer_id.strip()
    if not pt_id:
        raise ErpBusinessError(f"PayTrace customer id {paytrace_customer_id!r} is blank")
    check_paytrace_id(s, pt_id)
    with erp_guard(ERP_LABEL, "link_paytrace_customer"), write_transaction(engine) as conn:
        _lock_company(conn, s)
        row = _lock_customer(conn, s, customer_id.strip())
        if row is None:
            raise CustomerNotUsableError(
                f"customer {customer_id!r} does not exist in Sage 500 company {s.company_id}"
            )
        _refuse_taken(conn, s, pt_id, int(row.CustKey))
        if str(row._mapping[s.paytrace_id_field] or "").strip() != pt_id:
            _touch_customer(conn, s, int(row.CustKey), {s.paytrace_id_field: pt_id})
        detail = _get(conn, s, customer_id)
    assert detail is not None
    return detail


def customers_changed_since(
    engine: sa.Engine, s: SageSettings, cursor: str, limit: int = 500
) -> CustomerChanges:
    """Customers whose ERP-owned fields changed after the cursor, oldest change first.

    Keyset paging over ``(UpdateDate, CustKey)`` (index ``ix_tarCustomer_UpdateDate``): the cursor
    is the last row's ``UpdateDate`` and ``CustKey``, so rows sharing a timestamp are neither
    skipped nor repeated across pages. Rows never stamped (``UpdateDate`` NULL, e.g. imported
    directly) come first, by ``CustKey``.

    Raises:
        ValueError: for a cursor this connector did not produce, or a limit below 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    stamp, last_key = _parse_cursor(cursor)
    cust = tarCustomer.c
    base = _detail_select(s).where(cust.CompanyID == s.company_id)
    with erp_guard(ERP_LABEL, "customers_changed_since"), engine.connect() as conn:
        rows: list[AnyRow] = []
        newer: sa.ColumnElement[bool] | None = None
        if stamp is None:
            rows = list(
                conn.execute(
                    base.where(cust.UpdateDate.is_(None), cust.CustKey > last_key)
                    .order_by(cust.CustKey)
                    .limit(limit + 1)
                ).all()
            )
            newer = sa.true()  # the never-stamped rows are done: every stamped row is newer
        else:
            newer = sa.or_(
                cust.UpdateDate > stamp,
                sa.and_(cust.UpdateDate == stamp, cust.CustKey > last_key),
            )
        if len(rows) <= limit:
            rows += conn.execute(
                base.where(cust.UpdateDate.is_not(None), newer)
                .order_by(cust.UpdateDate, cust.CustKey)
                .limit(limit + 1 - len(rows))
            ).all()
    more = len(rows) > limit
    page = rows[:limit]
    next_cursor = _cursor(page[-1]) if page else cursor
    return CustomerChanges(
        customers=tuple(to_detail(r) for r in page), cursor=next_cursor, more=more
    )


def _cursor(row: AnyRow) -> str:
    if row.UpdateDate is None:
        return f"n|{int(row.CustKey)}"
    return f"d|{row.UpdateDate.isoformat()}|{int(row.CustKey)}"


def _parse_cursor(cursor: str) -> tuple[datetime | None, int]:
    if not cursor:
        return None, 0
    parts = cursor.split("|")
    try:
        if parts[0] == "n" and len(parts) == 2:
            return None, int(parts[1])
        if parts[0] == "d" and len(parts) == 3:
            return datetime.fromisoformat(parts[1]), int(parts[2])
    except ValueError:
        pass
    raise ValueError(f"not a Sage 500 customer cursor: {cursor!r}")


# --- writes ------------------------------------------------------------------------------------


def _lock_customer(conn: sa.Connection, s: SageSettings, cust_id: str) -> AnyRow | None:
    cust = tarCustomer.c
    return conn.execute(
        lock_rows(
            sa.select(tarCustomer).where(cust.CompanyID == s.company_id, cust.CustID == cust_id),
            tarCustomer,
        )
    ).first()


def _lock_company(conn: sa.Connection, s: SageSettings) -> None:
    """Serialize PayTrace id links of a company (rare writes; see ``link_paytrace_customer``)."""
    conn.execute(
        lock_rows(
            sa.select(tsmCompany.c.CompanyID).where(tsmCompany.c.CompanyID == s.company_id),
            tsmCompany,
        )
    ).first()


def _refuse_taken(
    conn: sa.Connection, s: SageSettings, paytrace_id: str, own_key: int | None
) -> None:
    cust = tarCustomer.c
    where = [cust.CompanyID == s.company_id, cust[s.paytrace_id_field] == paytrace_id.strip()]
    if own_key is not None:
        where.append(cust.CustKey != own_key)
    holder = conn.execute(sa.select(cust.CustID).where(*where).order_by(cust.CustID)).first()
    if holder is not None:
        raise ErpBusinessError(
            f"PayTrace customer {paytrace_id.strip()!r} is already linked to Sage customer"
            f" {str(holder.CustID).strip()} ({s.paytrace_id_field}); unlink it there first"
        )


def _terms_key(conn: sa.Connection, s: SageSettings, terms: str) -> int | None:
    if not terms.strip():
        return None
    key = conn.execute(
        sa.select(tciPaymentTerms.c.PmtTermsKey).where(
            tciPaymentTerms.c.CompanyID == s.company_id,
            tciPaymentTerms.c.PmtTermsID == terms.strip(),
        )
    ).scalar()
    if key is None:
        raise ErpBusinessError(
            f"payment terms {terms!r} do not exist in Sage 500 company {s.company_id}"
            " (tciPaymentTerms)"
        )
    return int(key)


def _create(conn: sa.Connection, s: SageSettings, p: CustomerProfile) -> None:
    now = s.clock()
    terms_key = _terms_key(conn, s, p.terms)
    cust_key = next_surrogate_block(conn, "tarCustomer", 1)
    addr_key = next_surrogate_block(conn, "tciAddress", 1)
    cntct_key = next_surrogate_block(conn, "tciContact", 1) if (p.email or p.phone) else None
    name = p.name.strip()[:40]
    cust_id = p.customer_id.strip()
    conn.execute(
        sa.insert(tciAddress),
        [{"AddrKey": addr_key, **address_values(p.address, name), "UpdateCounter": 0}],
    )
    conn.execute(
        sa.insert(tarCustAddr),
        [
            {
                "AddrKey": addr_key,
                "CustKey": cust_key,
                "CustAddrID": cust_id,
                "PmtTermsKey": terms_key,
            }
        ],
    )
    audit = {
        "CreateDate": now,
        "CreateUserID": s.user,
        "UpdateDate": now,
        "UpdateUserID": s.user,
        "UpdateCounter": 0,
    }
    if cntct_key is not None:
        conn.execute(sa.insert(tciContact), [_contact_row(cntct_key, cust_key, name, p, audit)])
    user_fields: dict[str, Any] = {f"UserFld{i}": None for i in range(1, 5)}
    if p.paytrace_customer_id.strip():
        user_fields[s.paytrace_id_field] = p.paytrace_customer_id.strip()
    conn.execute(
        sa.insert(tarCustomer),
        [
            {
                "CustKey": cust_key,
                "CompanyID": s.company_id,
                "CustID": cust_id,
                "CustName": name,
                "Status": codes.CUST_STATUS_ACTIVE,
                "Hold": 0,
                "CustClassKey": None,
                "CreditLimit": CREDIT_LIMIT_DEFAULT,
                "PrimaryAddrKey": addr_key,
                "DfltBillToAddrKey": addr_key,
                "DfltShipToAddrKey": addr_key,
                "PrimaryCntctKey": cntct_key,
                "CustRefNo": None,
                **user_fields,
                "DateEstab": datetime(now.year, now.month, now.day),
                **audit,
                "CreateType": codes.CREATE_TYPE_STANDARD,
            }
        ],
    )


def _contact_row(
    key: int, cust_key: int, name: str, p: CustomerProfile, audit: dict[str, Any]
) -> dict[str, Any]:
    return {
        "CntctKey": key,
        "CntctOwnerKey": cust_key,
        "EntityType": codes.ENTITY_TYPE_CUSTOMER,
        "Name": name,
        "Title": None,
        "Phone": p.phone.strip()[:17] or None,
        "Fax": None,
        "EMailAddr": p.email.strip()[:256] or None,
        **audit,
    }


def _update(conn: sa.Connection, s: SageSettings, row: AnyRow, p: CustomerProfile) -> None:
    now = s.clock()
    cust_key = int(row.CustKey)
    name = p.name.strip()[:40]
    changes: dict[str, Any] = {}
    if str(row.CustName).strip() != name:
        changes["CustName"] = name
    pt_id = p.paytrace_customer_id.strip()
    if pt_id and str(row._mapping[s.paytrace_id_field] or "").strip() != pt_id:
        changes[s.paytrace_id_field] = pt_id
    touched = _update_address(conn, s, row, p, now)
    contact_key, contact_changed = _update_contact(conn, s, row, p, now)
    if contact_key is not None:
        changes["PrimaryCntctKey"] = contact_key
    if changes or touched or contact_changed:
        _touch_customer(conn, s, cust_key, changes)


def _update_address(
    conn: sa.Connection, s: SageSettings, row: AnyRow, p: CustomerProfile, now: datetime
) -> bool:
    """Update the bill-to address and terms the profile carries; True when something changed."""
    addr_key = row.DfltBillToAddrKey
    if addr_key is None:
        return False
    changed = False
    wanted = {k: v for k, v in address_values(p.address, "").items() if v is not None}
    if wanted:
        current = conn.execute(
            sa.select(*(tciAddress.c[k] for k in wanted)).where(tciAddress.c.AddrKey == addr_key)
        ).first()
        if current is None or any(current._mapping[k] != v for k, v in wanted.items()):
            conn.execute(
                sa.update(tciAddress)
                .where(tciAddress.c.AddrKey == addr_key)
                .values(**wanted, UpdateCounter=tciAddress.c.UpdateCounter + 1)
            )
            changed = True
    terms_key = _terms_key(conn, s, p.terms)
    if terms_key is not None:
        current_terms = conn.execute(
            sa.select(tarCustAddr.c.PmtTermsKey).where(tarCustAddr.c.AddrKey == addr_key)
        ).scalar()
        if current_terms != terms_key:
            conn.execute(
                sa.update(tarCustAddr)
                .where(tarCustAddr.c.AddrKey == addr_key)
                .values(PmtTermsKey=terms_key)
            )
            changed = True
    return changed


def _update_contact(
    conn: sa.Connection, s: SageSettings, row: AnyRow, p: CustomerProfile, now: datetime
) -> tuple[int | None, bool]:
    """Update (or create) the primary contact's e-mail and phone.

    Returns:
        The new contact's key when one was created, and whether anything changed.
    """
    wanted: dict[str, Any] = {}
    if p.email.strip():
        wanted["EMailAddr"] = p.email.strip()[:256]
    if p.phone.strip():
        wanted["Phone"] = p.phone.strip()[:17]
    if not wanted:
        return None, False
    c = tciContact.c
    if row.PrimaryCntctKey is None:
        key = next_surrogate_block(conn, "tciContact", 1)
        audit = {
            "CreateDate": now,
            "CreateUserID": s.user,
            "UpdateDate": now,
            "UpdateUserID": s.user,
            "UpdateCounter": 0,
        }
        conn.execute(
            sa.insert(tciContact),
            [_contact_row(key, int(row.CustKey), str(row.CustName).strip(), p, audit)],
        )
        return key, True
    current = conn.execute(
        sa.select(c.EMailAddr, c.Phone).where(c.CntctKey == row.PrimaryCntctKey)
    ).first()
    if current is None or any(current._mapping[k] != v for k, v in wanted.items()):
        conn.execute(
            sa.update(tciContact)
            .where(c.CntctKey == row.PrimaryCntctKey)
            .values(
                **wanted, UpdateDate=now, UpdateUserID=s.user, UpdateCounter=c.UpdateCounter + 1
            )
        )
        return None, True
    return None, False


def _touch_customer(
    conn: sa.Connection, s: SageSettings, cust_key: int, values: dict[str, Any]
) -> None:
    cust = tarCustomer.c
    conn.execute(
        sa.update(tarCustomer)
        .where(cust.CustKey == cust_key)
        .values(
            **values,
            UpdateDate=s.clock(),
            UpdateUserID=s.user,
            UpdateCounter=cust.UpdateCounter + 1,
        )
    )
