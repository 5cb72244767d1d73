"""``tracepost codec new-key [--file PATH]``: a new payload encryption key, first in the key file.

The new key encrypts from the next start of each process (worker, api, CLI); the old keys stay
in the file and keep decrypting what they encrypted. Only the new key's id is printed (on
standard output, alone, for scripts); the key itself is never printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workers.cli_common import settings_or_exit


def cmd_codec_new_key(args: argparse.Namespace) -> int:
    """Prepend a new key to the key file.

    Args:
        args: ``file``: the key file (default ``TRACEPOST_CODEC_KEYS_FILE``).

    Returns:
        0, or 2 when the key file is not a valid key list or keys come from the environment.
    """
    from workers.codec import CodecKeyError, key_file_path, prepend_new_key

    settings = settings_or_exit()
    if args.file is None and settings.codec_keys.get_secret_value().strip():
        print(
            "tracepost codec new-key: the keys come from TRACEPOST_CODEC_KEYS, not from a file;"
            " write a new key to a file with --file PATH and put its line first in"
            " TRACEPOST_CODEC_KEYS",
            file=sys.stderr,
        )
        return 2
    path: Path = args.file or key_file_path(settings)
    try:
        key_id = prepend_new_key(path)
    except (CodecKeyError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"tracepost codec new-key: {reason}", file=sys.stderr)
        return 2
    print(key_id)
    print(
        f"key {key_id} is now first in {path} and encrypts from the next start of the worker,"
        " the api and CLI commands; keep the older keys listed while open workflows need them",
        file=sys.stderr,
    )
    return 0


def add_codec_commands(sub: Any) -> None:
    """Register ``codec new-key``.

    Args:
        sub: the ``tracepost`` sub-parsers.
    """
    codec = sub.add_parser("codec", help="payload encryption keys").add_subparsers(
        dest="codec_command", required=True
    )
    new = codec.add_parser(
        "new-key", help="put a new key first in the key file (rotation; old keys stay)"
    )
    new.add_argument(
        "--file", type=Path, default=None, help="the key file (default TRACEPOST_CODEC_KEYS_FILE)"
    )
    new.set_defaults(func=cmd_codec_new_key)
