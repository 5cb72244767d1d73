"""What every ``tracepost`` command shares: loading the settings or explaining why not."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from workers.settings import Settings


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings (environment plus overrides that are not None); exit with the reason.

    Args:
        overrides: settings given on the command line.

    Returns:
        The settings.

    Raises:
        SystemExit: with every problem of the configuration (and of the mapping file).
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SystemExit(f"tracepost: invalid configuration:\n{exc}") from None
