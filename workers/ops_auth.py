"""Who may use the ops pages: users from a TOML file, scrypt password hashes, signed sessions, CSRF.

The users file (``TRACEPOST_OPS_USERS_FILE``, default ``var/ops-users.toml``)::

    [[users]]
    name = "ann"
    role = "operator"        # viewer: reads; operator: also resolves and sees decrypted payloads
    password = "scrypt$16384$8$1$<salt>$<hash>"   # tracepost ops-user add ann --role operator

A session is a cookie holding the user, role, expiry and a CSRF token, signed with HMAC-SHA256;
every form carries the CSRF token and every POST checks it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

SESSION_COOKIE = "tp_session"
LOGIN_CSRF_COOKIE = "tp_login_csrf"
_NAME = re.compile(r"^[a-z][a-z0-9._-]{0,39}$")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class Role(StrEnum):
    """What a user may do."""

    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True)
class OpsUser:
    """A user of the ops pages."""

    name: str
    role: Role
    password_hash: str


@dataclass(frozen=True)
class Session:
    """A signed-in user."""

    user: str
    role: Role
    csrf: str
    expires: int

    @property
    def can_resolve(self) -> bool:
        """Operators resolve needs-attention items and see decrypted payloads."""
        return self.role is Role.OPERATOR


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Hash a password with scrypt.

    Args:
        password: the password.
        salt: 16 random bytes unless given (tests).

    Returns:
        ``scrypt$N$r$p$<salt b64>$<hash b64>``.
    """
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return "$".join(
        [
            "scrypt",
            str(_SCRYPT_N),
            str(_SCRYPT_R),
            str(_SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify_password(password: str, stored: str) -> bool:
    """Check a password against its stored hash (constant time; False for a malformed hash)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest, validate=True)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


class UsersFileError(ValueError):
    """The users file cannot be read."""


def load_users(path: Path) -> dict[str, OpsUser]:
    """Read the users file; a missing file means no users (nobody can sign in).

    Args:
        path: the TOML file.

    Returns:
        Users by name.

    Raises:
        UsersFileError: malformed file, unknown role, duplicate or bad name, bad hash.
    """
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsersFileError(f"{path}: {exc}") from None
    users: dict[str, OpsUser] = {}
    for number, entry in enumerate(data.get("users", []), start=1):
        if not isinstance(entry, dict):
            raise UsersFileError(f"{path}: users entry {number} is not a table")
        name = str(entry.get("name", ""))
        if not _NAME.fullmatch(name):
            raise UsersFileError(f"{path}: users entry {number}: name must be lower-case letters")
        if name in users:
            raise UsersFileError(f"{path}: user {name!r} appears twice")
        try:
            role = Role(str(entry.get("role", "")))
        except ValueError:
            raise UsersFileError(
                f"{path}: user {name!r}: role must be viewer or operator"
            ) from None
        password = str(entry.get("password", ""))
        if not password.startswith("scrypt$") or password.count("$") != 5:
            raise UsersFileError(
                f"{path}: user {name!r}: password must be a hash made by `tracepost ops-user add`"
            )
        users[name] = OpsUser(name, role, password)
    return users


def add_user(path: Path, name: str, role: Role, password: str) -> None:
    """Add a user to the users file, or replace the user's role and password.

    Args:
        path: the TOML file (created 0600 when missing).
        name: lower-case user name.
        role: viewer or operator.
        password: the password (only its hash is written).

    Raises:
        UsersFileError: a bad name, a short password, or a malformed file.
    """
    if not _NAME.fullmatch(name):
        raise UsersFileError("a user name is lower-case letters, digits, '.', '_' or '-'")
    if len(password) < 12:
        raise UsersFileError("a password has at least 12 characters")
    users = load_users(path)
    users[name] = OpsUser(name, role, hash_password(password))
    lines = ["# tracepost ops users: `tracepost ops-user add NAME --role viewer|operator`", ""]
    for user in users.values():
        lines += [
            "[[users]]",
            f'name = "{user.name}"',
            f'role = "{user.role.value}"',
            f'password = "{user.password_hash}"',
            "",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))


def session_key(configured: str, key_file: Path) -> bytes:
    """The key that signs sessions: the setting, else a random one kept in ``key_file``.

    Args:
        configured: ``TRACEPOST_OPS_SESSION_SECRET`` (blank: use the file).
        key_file: where a generated key is kept (0600), so sessions survive a restart.

    Returns:
        The key.
    """
    if configured:
        return configured.encode()
    if key_file.exists():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


class SessionSigner:
    """Makes and reads the signed session cookie.

    Args:
        key: the signing key.
        lifetime_seconds: how long a session lasts.
    """

    def __init__(self, key: bytes, lifetime_seconds: int) -> None:
        self._key = key
        self._lifetime = lifetime_seconds

    def issue(self, user: OpsUser, now: float | None = None) -> tuple[str, Session]:
        """A new session for a user: the cookie value and the session."""
        now = time.time() if now is None else now
        session = Session(
            user=user.name,
            role=user.role,
            csrf=secrets.token_urlsafe(24),
            expires=int(now) + self._lifetime,
        )
        payload = json.dumps(
            {"u": session.user, "r": session.role.value, "c": session.csrf, "e": session.expires},
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._mac(body)}", session

    def read(self, cookie: str, now: float | None = None) -> Session | None:
        """The session a cookie holds, or None when it is forged, malformed or expired."""
        body, _, mac = cookie.partition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(
                user=str(data["u"]),
                role=Role(data["r"]),
                csrf=str(data["c"]),
                expires=int(data["e"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires < (time.time() if now is None else now):
            return None
        return session

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


def csrf_ok(expected: str, offered: str) -> bool:
    """Whether a form's CSRF token is the session's (constant time)."""
    return bool(expected) and hmac.compare_digest(expected.encode(), offered.encode())


MAX_TRACKED_NAMES = 10_000
"""Names with failed sign-ins the throttle remembers before it forgets the unlocked ones."""


class LoginThrottle:
    """Slows password guessing: after ``limit`` failures a name is locked for ``lock_seconds``.

    Args:
        limit: failures allowed in a row.
        lock_seconds: how long a locked name waits.
    """

    def __init__(self, limit: int = 5, lock_seconds: int = 60) -> None:
        self._limit = limit
        self._lock_seconds = lock_seconds
        self._failures: dict[str, tuple[int, float]] = {}

    def locked(self, name: str, now: float | None = None) -> bool:
        """Whether the name is locked now."""
        count, since = self._failures.get(name, (0, 0.0))
        now = time.time() if now is None else now
        return count >= self._limit and now - since < self._lock_seconds

    def failed(self, name: str, now: float | None = None) -> None:
        """Count a failure."""
        now = time.time() if now is None else now
        count, _ = self._failures.get(name, (0, 0.0))
        self._failures[name] = (count + 1, now)
        if len(self._failures) > MAX_TRACKED_NAMES:
            # A flood of made-up names must not grow the table without end, nor unlock a name:
            # only names not locked now are forgotten.
            self._failures = {
                key: value for key, value in self._failures.items() if self.locked(key, now)
            }

    def succeeded(self, name: str) -> None:
        """Forget the failures of a name."""
        self._failures.pop(name, None)
