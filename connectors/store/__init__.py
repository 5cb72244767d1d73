from connectors.store.models import AuditEvent, DeadLetter
from connectors.store.store import Store

__all__ = ["AuditEvent", "DeadLetter", "Store"]
