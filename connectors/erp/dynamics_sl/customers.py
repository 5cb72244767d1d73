"""Customer writes and searches as SL's Customer Maintenance (08.260) keeps them.

ERP-owned fields: ``Customer`` name, address (``Addr*`` and the ``Bill*`` copy), phone,
e-mail and terms, plus the default ship-to ``SOAddress`` (``DfltShipToId``). The PayTrace
customer id lives in a configurable user field (``User1`` by default).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes, lookups
from connectors.erp.dynamics_sl.ar_schema import ARSetup, Customer, SOAddress, Terms
from connectors.erp.dynamics_sl.base import BLANK_DATE, pad, text
from connectors.erp.dynamics_sl.lookups import char_width
from connectors.erp.dynamics_sl.rows import blank_row
from connectors.erp.dynamics_sl.settings import SlSettings, detail
from connectors.erp.errors import CustomerNotUsableError, ErpBusinessError
from connectors.erp.locks import lock_rows
from domain.erp_documents import CustomerChanges, CustomerProfile

PROG_CUSTOMER = "08260"
CURSOR_SEP = "|"
LATE_WRITE_WINDOW_SECONDS = 120
TERMS_WIDTH = 2  # Terms.TermsId, Customer.Terms: char(2)


def search(
    conn: sa.Connection,
    pt_field: str,
    *,
    paytrace_customer_id: str = "",
    email: str = "",
    name: str = "",
) -> list[lookups.AnyRow]:
    """Customers matching the first criterion given, by ``CustId``."""
    c = Customer.c
    query = lookups.customer_select().order_by(c.CustId).limit(100)
    if paytrace_customer_id.strip():
        field = c[pt_field]
        if not lookups.fits(paytrace_customer_id, char_width(field)):
            return []
        value = pad(paytrace_customer_id.strip(), char_width(field))
        return list(conn.execute(query.where(field == value)).all())
    if email.strip():
        wanted = email.strip().lower()
        return list(conn.execute(query.where(sa.func.lower(sa.func.rtrim(c.EMailAddr)) == wanted)))
    if name.strip():
        wanted = " ".join(name.split()).lower()
        forms = {wanted, sl_name(wanted)}
        return list(
            conn.execute(query.where(sa.func.lower(sa.func.rtrim(c.Name)).in_(sorted(forms))))
        )
    return []


def sl_name(name: str) -> str:
    """A person's ``First Last`` in SL's ``Last~First`` form (one word stays as it is)."""
    parts = name.strip().rsplit(" ", 1)
    return name.strip() if len(parts) < 2 else f"{parts[1]}~{parts[0]}"


def _owned(profile: CustomerProfile) -> dict[str, Any]:
    a = profile.address
    return {
        "Name": pad(profile.name.strip(), 60),
        "Addr1": pad(a.line1, 60),
        "Addr2": pad(a.line2, 60),
        "City": pad(a.city, 30),
        "State": pad(a.state, 3),
        "Zip": pad(a.postal_code, 10),
        "Country": pad(a.country, 3),
        "Phone": pad(profile.phone, 30),
        "EMailAddr": pad(profile.email.strip(), 80),
        "BillName": pad(profile.name.strip(), 60),
        "BillAddr1": pad(a.line1, 60),
        "BillAddr2": pad(a.line2, 60),
        "BillCity": pad(a.city, 30),
        "BillState": pad(a.state, 3),
        "BillZip": pad(a.postal_code, 10),
        "BillCountry": pad(a.country, 3),
        "BillPhone": pad(profile.phone, 30),
    }


def _ship_to(profile: CustomerProfile) -> dict[str, Any]:
    a = profile.address
    return {
        "Descr": pad("Default", 30),
        "Name": pad(profile.name.strip(), 60),
        "Addr1": pad(a.line1, 60),
        "Addr2": pad(a.line2, 60),
        "City": pad(a.city, 30),
        "State": pad(a.state, 3),
        "Zip": pad(a.postal_code, 10),
        "Country": pad(a.country, 3),
        "Phone": pad(profile.phone, 30),
        "EMailAddr": pad(profile.email.strip(), 80),
    }


def upsert(conn: sa.Connection, profile: CustomerProfile, settings: SlSettings) -> None:
    """Insert or update a customer's ERP-owned fields; unchanged rows are not touched.

    Raises:
        ErpBusinessError: unknown terms, blank id or name, or a PayTrace id linked elsewhere.
    """
    cust_id = profile.customer_id.strip()
    if not cust_id or len(cust_id) > 15 or not profile.name.strip():
        raise ErpBusinessError("a Dynamics SL customer needs an id of 1-15 characters and a name")
    if profile.terms and not lookups.fits(profile.terms, TERMS_WIDTH):
        raise ErpBusinessError(f"terms {profile.terms!r} do not exist in Dynamics SL (Terms)")
    if (
        profile.terms
        and conn.execute(
            sa.select(Terms.c.TermsId).where(Terms.c.TermsId == pad(profile.terms, 2))
        ).first()
        is None
    ):
        raise ErpBusinessError(f"terms {profile.terms!r} do not exist in Dynamics SL (Terms)")
    ctx = settings.context(PROG_CUSTOMER)
    c = Customer.c
    key = lookups.cust_key(cust_id)
    conn.execute(lock_rows(sa.select(c.CustId).where(c.CustId == key), Customer)).first()
    row = conn.execute(sa.select(Customer).where(c.CustId == key)).first()
    values = _owned(profile)
    if profile.terms:
        values["Terms"] = pad(profile.terms, 2)
    if profile.paytrace_customer_id:
        _check_link_free(conn, cust_id, profile.paytrace_customer_id, settings)
        field = c[settings.paytrace_id_field]
        values[field.name] = pad(profile.paytrace_customer_id.strip(), char_width(field))
    updated = {**ctx.audit_values()}
    if row is None:
        setup = lookups.ar_setup(conn)
        conn.execute(
            sa.insert(Customer),
            [
                {
                    **blank_row(Customer),
                    "CustId": key,
                    "Terms": pad(profile.terms, 2),
                    **values,
                    "ArAcct": setup.ArAcct,
                    "ArSub": setup.ArSub,
                    "ClassId": setup.DfltClass,
                    "CuryId": pad(codes.CURY_ID, 4),
                    "DfltShipToId": pad(codes.DEFAULT_SHIP_TO, 10),
                    "Status": codes.CUST_ACTIVE,
                    "StmtType": "O",
                    "SetupDate": datetime.combine(ctx.now.date(), datetime.min.time()),
                    **updated,
                }
            ],
        )
        conn.execute(
            sa.insert(SOAddress),
            [
                {
                    **blank_row(SOAddress),
                    "CustId": key,
                    "ShipToId": pad(codes.DEFAULT_SHIP_TO, 10),
                    **_ship_to(profile),
                    "Status": codes.CUST_ACTIVE,
                    **updated,
                }
            ],
        )
        return
    changed = {k: v for k, v in values.items() if text(row._mapping[k]) != text(v)}
    if not changed:
        return
    del updated["Crtd_DateTime"], updated["Crtd_Prog"], updated["Crtd_User"]
    conn.execute(sa.update(Customer).where(c.CustId == key).values(**changed, **updated))
    ship = SOAddress.c
    default_ship = row.DfltShipToId if text(row.DfltShipToId) else pad(codes.DEFAULT_SHIP_TO, 10)
    conn.execute(
        sa.update(SOAddress)
        .where(ship.CustId == key, ship.ShipToId == default_ship)
        .values(**_ship_to(profile), **updated)
    )


def _check_link_free(
    conn: sa.Connection, cust_id: str, paytrace_id: str, settings: SlSettings
) -> None:
    field = Customer.c[settings.paytrace_id_field]
    if len(paytrace_id.strip()) > char_width(field):
        raise ErpBusinessError(
            f"PayTrace customer id {paytrace_id!r} does not fit Customer.{field.name}"
            f" (char {char_width(field)})"
        )
    # Links are serialized on the AR setup row, so two links of one PayTrace id to different
    # customers cannot both pass this check; the query below is a new statement, so it sees
    # what a racer committed while this transaction waited for the lock.
    conn.execute(lock_rows(sa.select(ARSetup.c.SetupId), ARSetup)).all()
    other = conn.execute(
        sa.select(Customer.c.CustId)
        .where(
            field == pad(paytrace_id.strip(), char_width(field)),
            Customer.c.CustId != lookups.cust_key(cust_id),
        )
        .limit(1)
    ).first()
    if other is not None:
        raise ErpBusinessError(
            f"PayTrace customer {paytrace_id!r} is already linked to SL customer"
            f" {text(other.CustId)}"
        )


def link(conn: sa.Connection, customer_id: str, paytrace_id: str, settings: SlSettings) -> None:
    """Store the PayTrace id in the configured user field; a no-op when already there.

    Raises:
        CustomerNotUsableError: unknown customer.
        ErpBusinessError: another customer holds the id.
    """
    if not lookups.fits(customer_id, lookups.CUST_ID_WIDTH):
        raise CustomerNotUsableError(f"customer {customer_id!r} does not exist in Dynamics SL")
    c = Customer.c
    key = lookups.cust_key(customer_id)
    field = c[settings.paytrace_id_field]
    conn.execute(lock_rows(sa.select(c.CustId).where(c.CustId == key), Customer)).first()
    current = conn.execute(sa.select(field).where(c.CustId == key)).first()
    if current is None:
        raise CustomerNotUsableError(f"customer {customer_id!r} does not exist in Dynamics SL")
    if text(current[0]) == paytrace_id.strip():
        return
    _check_link_free(conn, customer_id, paytrace_id, settings)
    ctx = settings.context(PROG_CUSTOMER)
    conn.execute(
        sa.update(Customer)
        .where(c.CustId == key)
        .values(
            {
                field.name: pad(paytrace_id.strip(), char_width(field)),
                "LUpd_DateTime": ctx.now,
                "LUpd_Prog": pad(PROG_CUSTOMER, 8),
                "LUpd_User": pad(ctx.user_id, 10),
            }
        )
    )


def parse_cursor(cursor: str) -> tuple[datetime, str]:
    """``"2025-06-02T14:30:00|C0001"`` → (timestamp, CustId); blank starts at the beginning."""
    if not cursor:
        return BLANK_DATE, ""
    stamp, _, cust = cursor.partition(CURSOR_SEP)
    try:
        return datetime.fromisoformat(stamp), cust
    except ValueError as exc:
        raise ErpBusinessError(f"not a Dynamics SL customer cursor: {cursor!r}") from exc


def changed_since(
    conn: sa.Connection, cursor: str, limit: int, settings: SlSettings
) -> CustomerChanges:
    """One page of customers after the cursor, ordered by (``LUpd_DateTime``, ``CustId``).

    Rows sharing a timestamp are paged by ``CustId``, so none is skipped. SL stamps
    ``SMALLDATETIME`` (to the minute): a customer saved later within the same minute can sort
    before the cursor, so while the newest timestamp is recent the last page hands back a cursor
    at the start of that timestamp (those rows come again; sync is idempotent).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    stamp, cust = parse_cursor(cursor)
    c = Customer.c
    after = sa.or_(
        c.LUpd_DateTime > stamp,
        sa.and_(c.LUpd_DateTime == stamp, c.CustId > pad(cust, 15) if cust else sa.true()),
    )
    rows = conn.execute(
        lookups.customer_select().where(after).order_by(c.LUpd_DateTime, c.CustId).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    page = rows[:limit]
    details = tuple(detail(settings, r) for r in page)
    if not page:
        return CustomerChanges(customers=(), cursor=cursor, more=False)
    last = page[-1]
    last_stamp: datetime = last.LUpd_DateTime
    next_cursor = f"{last_stamp.isoformat()}{CURSOR_SEP}{text(last.CustId)}"
    recent = (settings.clock() - last_stamp).total_seconds() < LATE_WRITE_WINDOW_SECONDS
    if not more and recent:
        next_cursor = f"{last_stamp.isoformat()}{CURSOR_SEP}"
    return CustomerChanges(customers=details, cursor=next_cursor, more=more)
