"""Opaque sync cursors: where a sweep over another system's change feed got to (its own text)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from connectors.store.schema import sync_cursors


class SyncCursorsMixin:
    """The store's text cursors (the ERP's customer-change cursor, for one)."""

    engine: sa.Engine

    def sync_cursor(self, name: str) -> str:
        """The named cursor, or the empty string before its first save.

        Args:
            name: the cursor's name.

        Returns:
            The cursor text as saved.
        """
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sync_cursors.c.cursor).where(sync_cursors.c.name == name)
            ).scalar()
        return "" if value is None else str(value)

    def save_sync_cursor(self, name: str, cursor: str) -> None:
        """Save the named cursor (an opaque cursor cannot be compared: the last save wins).

        Args:
            name: the cursor's name.
            cursor: the text to keep.
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            updated = conn.execute(
                sync_cursors.update()
                .where(sync_cursors.c.name == name)
                .values(cursor=cursor, updated_at=now)
            )
            if updated.rowcount == 0:
                conn.execute(sync_cursors.insert().values(name=name, cursor=cursor, updated_at=now))
