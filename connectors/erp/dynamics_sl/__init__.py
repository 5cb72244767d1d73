"""Microsoft Dynamics SL: connector, stand-in schema and demo data."""

from connectors.erp.dynamics_sl.connector import DynamicsSlConnector
from connectors.erp.dynamics_sl.demo import DynamicsSlStandIn

STAND_IN = DynamicsSlStandIn()

__all__ = ["STAND_IN", "DynamicsSlConnector", "DynamicsSlStandIn"]
