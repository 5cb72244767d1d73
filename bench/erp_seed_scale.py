"""Demo seeding at scale: per-invoice cost of ``seed_demo`` for each ERP stand-in, small vs large.

Seeds, in the same run, a baseline stand-in and one ``--scale`` times larger for each ERP, on
SQLite (and on PostgreSQL with ``--pg``), and prints the time per 1,000 invoices. Chunked bulk
inserts should keep the ratio near 1, which is what lets ``tracepost erp init --demo --customers
100000 --invoices 1000000`` finish in minutes. Prints figures; asserts nothing.

    .venv/bin/python -m bench.erp_seed_scale [--customers 2000] [--invoices 20000] [--scale 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from connectors.erp.standin import ERP_NAMES, stand_in

PG_URL = os.environ.get(
    "TRACEPOST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def database(kind: str, tmp: Path, name: str) -> Iterator[sa.Engine]:
    """A fresh SQLite file or PostgreSQL schema, removed afterwards."""
    if kind == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp / name}.db")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def seed_seconds(erp: str, engine: sa.Engine, customers: int, invoices: int) -> float:
    """Seconds to create the schema and seed the demo company."""
    standin = stand_in(erp)
    started = time.perf_counter()
    standin.create_schema(engine)
    result = standin.seed_demo(engine, customers=customers, invoices=invoices)
    elapsed = time.perf_counter() - started
    assert result.created and result.invoices == invoices, result
    return elapsed


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=2_000, help="baseline customers")
    parser.add_argument("--invoices", type=int, default=20_000, help="baseline invoices")
    parser.add_argument("--scale", type=int, default=10, help="how many times larger")
    parser.add_argument("--pg", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--erp", choices=ERP_NAMES, action="append", help="default: both")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.pg else ["sqlite"]
    print(
        f"machine: {platform.machine()} {platform.python_implementation()}"
        f" {platform.python_version()}, {os.cpu_count()} cores"
    )
    print(
        f"{'erp':<12} {'db':<10} {'customers':>10} {'invoices':>10} {'seconds':>8}"
        f" {'s/1k inv':>9} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for erp in args.erp or ERP_NAMES:
            for kind in kinds:
                base = None
                for factor in (1, args.scale):
                    customers, invoices = args.customers * factor, args.invoices * factor
                    with database(kind, Path(tmp), f"{erp}-{factor}") as engine:
                        seconds = seed_seconds(erp, engine, customers, invoices)
                    per_k = seconds / invoices * 1000
                    base = base or per_k
                    print(
                        f"{erp:<12} {kind:<10} {customers:>10,} {invoices:>10,} {seconds:>8.1f}"
                        f" {per_k:>9.3f} {per_k / base:>6.2f}"
                    )


if __name__ == "__main__":
    main()
    os._exit(0)
