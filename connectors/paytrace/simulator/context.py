"""What every route needs: settings, state, clock and the Silent Post sender."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from connectors.paytrace.simulator.check_state import CheckState
from connectors.paytrace.simulator.clock import Clock
from connectors.paytrace.simulator.config import SimulatorConfig
from connectors.paytrace.simulator.silent_post import SilentPoster
from connectors.paytrace.simulator.state import SimulatorState
from connectors.paytrace.simulator.vault_state import VaultState

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class SimContext:
    """One simulator instance's collaborators, kept on ``app.state.sim``."""

    config: SimulatorConfig
    state: SimulatorState
    clock: Clock
    poster: SilentPoster
    vault: VaultState
    checks: CheckState

    @property
    def tz(self) -> ZoneInfo:
        """The merchant's time zone."""
        return ZoneInfo(self.config.timezone)

    def now(self) -> datetime:
        """Return the current time from the simulator's clock."""
        return self.clock()

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking state call in a worker thread.

        Args:
            fn: a :class:`SimulatorState` method.
            *args: its positional arguments.
            **kwargs: its keyword arguments.

        Returns:
            What the call returned.
        """
        return await asyncio.to_thread(fn, *args, **kwargs)


def get_context(request: Request) -> SimContext:
    """Return the simulator context of the app serving this request."""
    context: SimContext = request.app.state.sim
    return context


Ctx = Annotated[SimContext, Depends(get_context)]


def client_ip(request: Request) -> str:
    """Return the caller's IP address for ``created.from_ip``."""
    return request.client.host if request.client else "127.0.0.1"
