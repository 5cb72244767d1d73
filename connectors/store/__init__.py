from connectors.store.models import DeadLetter
from connectors.store.store import Store
from domain.activity_io import AuditEvent

__all__ = ["AuditEvent", "DeadLetter", "Store"]
