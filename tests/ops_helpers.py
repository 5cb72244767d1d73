"""Helpers of the api and ops-page tests: a store, a users file, an in-process HTTP client."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from connectors.store import Store
from workers.ops_auth import Role, add_user
from workers.settings import Settings

PASSWORD = "correct horse battery staple"


def add_users(settings: Settings) -> None:
    """An operator ``ann`` and a viewer ``vic``, both with PASSWORD."""
    assert settings.ops_users_file is not None
    add_user(settings.ops_users_file, "ann", Role.OPERATOR, PASSWORD)
    add_user(settings.ops_users_file, "vic", Role.VIEWER, PASSWORD)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the login form, as a browser would."""
    page = await client.get("/ops/login")
    return await client.post(
        "/ops/login",
        data={
            "csrf": csrf_of(page.text),
            "username": name,
            "password": password,
            "next": "/ops/dashboard",
        },
    )


def sqlite_store(tmp_path: Path) -> Store:
    """A fresh store on SQLite in the test's folder, its tables created."""
    store = Store(sa.create_engine(f"sqlite:///{tmp_path}/store.db"))
    store.create_schema()
    return store


def asgi_client(app: Any) -> httpx.AsyncClient:
    """An HTTP client that calls the api app in-process (use it with ``async with``)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
