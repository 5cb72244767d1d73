"""Sage 500 ERP: connector, stand-in schema and demo data."""

from connectors.erp.sage500.connector import Sage500Connector
from connectors.erp.sage500.demo import SeedResult, create_schema, seed_demo

__all__ = ["Sage500Connector", "SeedResult", "create_schema", "seed_demo"]
