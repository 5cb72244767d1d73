"""The embedded stack's first ops user: ``admin``, an operator with a random password.

Created once, when the users file has no user; the password is kept beside it
(``var/ops-admin-password``, 0600) so the banner can show it at every start. Production
deployments add their users with ``tracepost ops-user add`` and never run this.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from workers.ops_auth import Role, add_user, load_users
from workers.settings import Settings

DEV_ADMIN = "admin"


def ensure_dev_admin(settings: Settings) -> tuple[str, str] | None:
    """Create ``admin`` when nobody can sign in yet.

    Args:
        settings: the dev stack's settings.

    Returns:
        (name, password) of the dev admin when its password file exists (created now or
        before), else None (the users file was written by someone else).
    """
    users_file = settings.ops_users_file or settings.var_dir / "ops-users.toml"
    password_file = settings.var_dir / "ops-admin-password"
    if not load_users(users_file):
        password = secrets.token_urlsafe(12)
        add_user(users_file, DEV_ADMIN, Role.OPERATOR, password)
        _write_private(password_file, password)
    if password_file.exists() and DEV_ADMIN in load_users(users_file):
        return DEV_ADMIN, password_file.read_text(encoding="utf-8").strip()
    return None


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")
