"""Helpers of the ops-page tests: a users file and a signed-in HTTP client."""

from __future__ import annotations

import re

import httpx

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
