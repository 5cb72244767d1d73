"""Reading customers with every ERP-owned field: tarCustomer ⋈ tciAddress ⋈ tciContact ⋈ terms.

Where Sage keeps what (see ``docs/erp/sage500.md``): the name on ``tarCustomer.CustName``; the
billing address on ``tciAddress`` via ``tarCustomer.DfltBillToAddrKey``; e-mail and phone on the
primary contact ``tciContact`` (``tarCustomer.PrimaryCntctKey``); payment terms on the bill-to
``tarCustAddr.PmtTermsKey`` → ``tciPaymentTerms.PmtTermsID``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.erp.customer_fields import is_autopay
from connectors.erp.sage500 import codes
from connectors.erp.sage500.lookups import AnyRow
from connectors.erp.sage500.schema import (
    tarCustAddr,
    tarCustomer,
    tciAddress,
    tciContact,
    tciPaymentTerms,
)
from domain.erp_documents import CustomerDetail, PostalAddress


def detail_select(
    paytrace_id_field: str, autopay_field: str = "", card_field: str = ""
) -> sa.Select[Any]:
    """Customers with address, primary contact and terms (outer joins: any may be missing).

    ``autopay_field`` and ``card_field`` (``tarCustomer`` user fields) are read as
    ``AutopayFlag`` and ``CardOnFile``; blank reads NULL (autopay off, no card).
    """
    cust = tarCustomer.c
    autopay = cust[autopay_field] if autopay_field else sa.null()
    card = cust[card_field] if card_field else sa.null()
    return (
        sa.select(
            cust.CustKey,
            cust.CustID,
            cust.CustName,
            cust.Status,
            cust.Hold,
            cust.PrimaryCntctKey,
            cust.DfltBillToAddrKey,
            cust.CreateDate,
            cust.UpdateDate,
            cust[paytrace_id_field].label("PaytraceID"),
            autopay.label("AutopayFlag"),
            card.label("CardOnFile"),
            tciAddress.c.AddrLine1,
            tciAddress.c.AddrLine2,
            tciAddress.c.City,
            tciAddress.c.StateID,
            tciAddress.c.PostalCode,
            tciAddress.c.CountryID,
            tciContact.c.EMailAddr,
            tciContact.c.Phone,
            tciPaymentTerms.c.PmtTermsID,
        )
        .select_from(tarCustomer)
        .outerjoin(tciAddress, tciAddress.c.AddrKey == cust.DfltBillToAddrKey)
        .outerjoin(tarCustAddr, tarCustAddr.c.AddrKey == cust.DfltBillToAddrKey)
        .outerjoin(tciPaymentTerms, tciPaymentTerms.c.PmtTermsKey == tarCustAddr.c.PmtTermsKey)
        .outerjoin(tciContact, tciContact.c.CntctKey == cust.PrimaryCntctKey)
    )


def to_detail(row: AnyRow) -> CustomerDetail:
    """Turn a ``detail_select`` row into the domain model (blanks for missing parts)."""
    updated = row.UpdateDate or row.CreateDate
    return CustomerDetail(
        customer_id=_s(row.CustID),
        name=_s(row.CustName),
        active=int(row.Status) == codes.CUST_STATUS_ACTIVE,
        on_hold=bool(row.Hold),
        email=_s(row.EMailAddr),
        phone=_s(row.Phone),
        address=PostalAddress(
            line1=_s(row.AddrLine1),
            line2=_s(row.AddrLine2),
            city=_s(row.City),
            state=_s(row.StateID),
            postal_code=_s(row.PostalCode),
            country=_s(row.CountryID),
        ),
        terms=_s(row.PmtTermsID),
        paytrace_customer_id=_s(row.PaytraceID),
        updated_at=updated if isinstance(updated, datetime) else None,
        autopay=is_autopay(row.AutopayFlag),
        card_on_file=_s(row.CardOnFile),
    )


def address_values(address: PostalAddress, name: str) -> dict[str, Any]:
    """``tciAddress`` columns of a postal address, cut to Sage's widths."""
    return {
        "AddrName": name[:40] or None,
        "AddrLine1": address.line1[:40] or None,
        "AddrLine2": address.line2[:40] or None,
        "City": address.city[:20] or None,
        "StateID": address.state[:3] or None,
        "PostalCode": address.postal_code[:10] or None,
        "CountryID": address.country[:3] or None,
    }


def _s(value: object) -> str:
    return str(value).strip() if value is not None else ""
