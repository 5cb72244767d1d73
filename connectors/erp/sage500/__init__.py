"""Sage 500 ERP: connector, stand-in schema, demo data and the ``STAND_IN`` factory."""

from connectors.erp.sage500.connector import Sage500Connector
from connectors.erp.sage500.demo import create_schema, seed_demo
from connectors.erp.sage500.standin import STAND_IN, Sage500StandIn
from connectors.erp.standin import SeedResult

__all__ = [
    "STAND_IN",
    "Sage500Connector",
    "Sage500StandIn",
    "SeedResult",
    "create_schema",
    "seed_demo",
]
