"""A PayTrace API simulator: the v1 JSON API tracepost uses, a v3 seam, and hosted checkout.

``create_app(SimulatorConfig(db_path=...))`` gives a FastAPI app that answers like PayTrace's
sandbox, with state in SQLite so it survives restarts. Each API user in ``merchants`` is its own
merchant and sees only its own data. Transaction ids are integers from 1000001, check ids from
5000001. docs/paytrace.md lists every path, the decisions taken where PayTrace's documentation
is silent, and the fault injection under ``/_sim/faults``.

Paths:
    ``POST /oauth/token``, ``GET /v1/ping``; ``/v1/transactions/`` sale and authorization
    (keyed, by_customer), authorization/capture, void, refund (for_transaction, keyed,
    to_customer), settle, export/by_id, export/by_date_range; ``/v1/customer/`` create, update,
    delete, export; ``/v1/recurrence/`` create, delete; ``/v1/checks/`` sale/by_account,
    refund/by_transaction, manage/void, export; ``/v1/batches/`` export_one, export,
    transaction_list; ``/v1/level_three/visa|mastercard``; ``/v3/...`` (see ``v3.py``);
    ``GET /checkout``, ``POST /checkout/pay``; test surface under ``/_sim/``.

Card outcomes (for Luhn-valid cards, e.g. the published test cards 4012000098765439 Visa,
5499740000000057 MC, 6011000993026909 Discover, 371449635392376 Amex):
    - amount ending in .29: declined, ``"  EXPIRED CARD - Expired card"`` (PayTrace sandbox
      transcript for $0.29);
    - amount ending in .02: declined, ``"    DECLINE - Do not honor"``;
    - amount ending in .51: declined, ``"    DECLINE - Insufficient funds"``;
    - expiration month/year before the merchant's current month: declined as expired card;
    - anything else: approved (101) with a random ``TASnnn`` approval code.
    A decline is HTTP 400, response_code 102, with a ``transaction_id``; it is stored with type
    ``SALE`` and ``status_code`` 102 and shows up in exports.
    AVS is ``"Full Exact Match"`` when street_address and zip are both sent, else ``"No Match"``;
    the approval message follows it (``"  EXACT MATCH - ..."`` / ``"  NO  MATCH - Approved and
    completed"``). CSC is ``""`` when no csc is sent, ``"Match"`` for 3-4 digits, else
    ``"No Match"``.

Simulator assumptions where PayTrace's documentation could not be confirmed:
    - error codes: 39 invalid/missing/non-positive amount or finer than a cent; 40 invalid
      tax_amount; 47 invoice_id over 50 characters; 70/71 malformed start_date/end_date
      (``MM/DD/YYYY``, one-digit month and day accepted); 72 end_date before start_date; 1 body
      not a JSON object. 35, 43, 44 and 58 are PayTrace's own.
    - 44 is only for a malformed year (not 2 or 4 digits); a past year is a decline.
    - export envelope has ``response_code`` 1; ``status_code`` in a record is the integer response
      code (101 or 102); ``amount`` is a JSON number with two places, ``tax_amount`` a string;
      ``expiration_month`` is two digits, ``expiration_year`` four.
    - export ``transaction_type`` filter also takes ``DECLINED``, ``SETTLED`` and ``PENDING`` as
      status filters; ``including_text`` is a case-insensitive substring of invoice_id,
      description or customer_reference_id; ``include_bin`` is accepted and ignored.
    - the Silent Post is sent for declined checkout payments too.

Never stored or logged: full card numbers, CSCs, passwords, tokens (kept as sha256 hashes).
"""

from connectors.paytrace.simulator.app import create_app
from connectors.paytrace.simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]
