"""``tracepost ops-user add NAME --role viewer|operator`` and ``ops-user list``: who may sign in.

The password is read from the terminal (twice) or, with ``--password-stdin``, from one line of
standard input; only its scrypt hash is written to the users file.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from workers.cli_common import settings_or_exit


def cmd_ops_user_add(args: argparse.Namespace) -> int:
    """Add a user to the ops users file, or change a user's role and password."""
    from workers.ops_auth import Role, UsersFileError, add_user

    settings = settings_or_exit()
    path = settings.ops_users_file or settings.var_dir / "ops-users.toml"
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("tracepost ops-user add: the passwords differ", file=sys.stderr)
            return 2
    try:
        add_user(path, args.name, Role(args.role), password)
    except UsersFileError as exc:
        print(f"tracepost ops-user add: {exc}", file=sys.stderr)
        return 2
    print(f"{args.name} ({args.role}) saved in {path}")
    return 0


def cmd_ops_user_list(_: argparse.Namespace) -> int:
    """List the users of the ops pages (names and roles, never hashes)."""
    from workers.ops_auth import UsersFileError, load_users

    settings = settings_or_exit()
    path = settings.ops_users_file or settings.var_dir / "ops-users.toml"
    try:
        users = load_users(path)
    except UsersFileError as exc:
        print(f"tracepost ops-user list: {exc}", file=sys.stderr)
        return 2
    if not users:
        print(f"no users in {path}: add one with `tracepost ops-user add NAME --role operator`")
    for user in users.values():
        print(f"{user.name}  {user.role.value}")
    return 0


def add_ops_user_commands(sub: Any) -> None:
    """Register ``ops-user add`` and ``ops-user list``."""
    users = sub.add_parser("ops-user", help="users of the ops pages").add_subparsers(
        dest="ops_user_command", required=True
    )
    add = users.add_parser("add", help="add a user or change a user's role and password")
    add.add_argument("name", help="lower-case user name")
    add.add_argument("--role", choices=["viewer", "operator"], required=True)
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(func=cmd_ops_user_add)
    users.add_parser("list", help="list users and roles").set_defaults(func=cmd_ops_user_list)
