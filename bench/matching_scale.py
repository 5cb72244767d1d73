"""Matching at scale: per-payment cost of ERP lookups + the matching engine, small vs large ERP.

Seeds two stand-ins of one ERP (SQLite) in the same run, a small one as the baseline and one 25 times
larger, then resolves the same number of payments against each: invoice by number, the customer's
open invoices, the decision. Indexes should keep the ratio near 1. Prints figures; asserts nothing.

    .venv/bin/python -m bench.matching_scale [--erp sage500|dynamics_sl] [--payments 2000]
        [--small 500] [--scale 25]
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from connectors.erp.protocol import ErpConnector
from connectors.erp.standin import ERP_NAMES, ConnectorOptions, stand_in
from domain.matching import MatchInput, MatchPolicy, decide


def build(erp: str, path: Path, customers: int) -> tuple[ErpConnector, float]:
    engine = sa.create_engine(f"sqlite:///{path}")
    standin = stand_in(erp)
    started = time.perf_counter()
    standin.create_schema(engine)
    standin.seed_demo(engine, customers=customers, invoices=customers * 4)
    connector = standin.build_connector(engine, ConnectorOptions())
    return connector, time.perf_counter() - started


def per_payment_us(erp: ErpConnector, numbers: list[str]) -> float:
    policy = MatchPolicy()
    started = time.perf_counter()
    for number in numbers:
        invoice = erp.invoice_by_number(number)
        assert invoice is not None
        open_invoices = tuple(erp.open_invoices(invoice.customer_id))
        decide(
            MatchInput(
                amount=Decimal("10.00"),
                invoice_id=number,
                invoice_by_number=invoice,
                open_invoices=open_invoices,
            ),
            policy,
        )
    return (time.perf_counter() - started) / len(numbers) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--erp", choices=ERP_NAMES, default="sage500")
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--small", type=int, default=500, help="customers in the baseline ERP")
    parser.add_argument(
        "--scale", type=int, default=25, help="how many times larger the big ERP is"
    )
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        small, small_seed = build(args.erp, Path(tmp) / "small.db", args.small)
        large, large_seed = build(args.erp, Path(tmp) / "large.db", args.small * args.scale)
        small_invoices = args.small * 4
        # the same invoice numbers, present in both databases (numbers start at 1001)
        numbers = [str(1001 + rng.randrange(small_invoices - 4)) for _ in range(args.payments)]
        per_payment_us(small, numbers[:100])  # warm caches
        per_payment_us(large, numbers[:100])
        base = per_payment_us(small, numbers)
        big = per_payment_us(large, numbers)
    print(
        f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"ERP stand-in: {args.erp}")
    print(f"payments matched per run: {args.payments}")
    print(
        f"baseline ERP: {args.small:>8} customers, {small_invoices:>9} invoices, seeded in {small_seed:6.2f} s"
    )
    print(
        f"large ERP:    {args.small * args.scale:>8} customers, {small_invoices * args.scale:>9} invoices, seeded in {large_seed:6.2f} s"
    )
    print(f"per payment, baseline: {base:8.1f} us")
    print(f"per payment, large:    {big:8.1f} us")
    print(f"ratio large/baseline:  {big / base:8.2f}  (1.00 = flat)")


if __name__ == "__main__":
    main()
