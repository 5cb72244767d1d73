"""The application factory: wires state, routes and error handlers together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from starlette.responses import Response

from connectors.paytrace.simulator import (
    admin,
    auth,
    batches,
    checkout,
    checks,
    customers,
    level_three,
    sim_checks,
    transaction_exports,
    transactions,
    v3,
)
from connectors.paytrace.simulator.auth import InvalidTokenError, invalid_token_response
from connectors.paytrace.simulator.check_state import CheckState
from connectors.paytrace.simulator.clock import Clock, system_clock
from connectors.paytrace.simulator.config import SimulatorConfig
from connectors.paytrace.simulator.context import SimContext
from connectors.paytrace.simulator.errors import ApiError
from connectors.paytrace.simulator.faults import FaultInjector, FaultMiddleware
from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse
from connectors.paytrace.simulator.silent_post import SilentPoster
from connectors.paytrace.simulator.state import SimulatorState
from connectors.paytrace.simulator.vault_state import VaultState


def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return PayTraceJSONResponse(exc.body(), status_code=400)


def _invalid_token(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidTokenError)
    return invalid_token_response()


def create_app(
    config: SimulatorConfig,
    *,
    clock: Clock | None = None,
    silent_post_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build a PayTrace simulator app. Its SQLite tables are created now if missing.

    Args:
        config: the simulator settings.
        clock: returns the current aware datetime; defaults to the system clock (tests move time).
        silent_post_transport: an httpx transport for the Silent Post (tests inject a
            MockTransport); defaults to real HTTP.

    Returns:
        The ASGI app. Its own docs are at ``/_sim/docs``, away from PayTrace's paths.
    """
    state = SimulatorState(
        config.db_path,
        config.first_transaction_id,
        config.first_check_id,
        config.first_batch_number,
    )
    state.create_schema()
    poster = SilentPoster(config.silent_post_url, transport=silent_post_transport)
    context = SimContext(
        config=config,
        state=state,
        clock=clock or system_clock,
        poster=poster,
        vault=VaultState(state.file),
        checks=CheckState(state.file),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await poster.aclose()

    app = FastAPI(
        title="PayTrace simulator",
        docs_url="/_sim/docs",
        redoc_url=None,
        openapi_url="/_sim/openapi.json",
        lifespan=lifespan,
    )
    app.state.sim = context
    faults = FaultInjector(config.faults, seed=config.fault_seed)
    app.state.faults = faults
    app.add_middleware(FaultMiddleware, injector=faults)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(InvalidTokenError, _invalid_token)
    app.include_router(auth.router)
    app.include_router(transactions.router)
    app.include_router(transaction_exports.router)
    app.include_router(customers.router)
    app.include_router(checks.router)
    app.include_router(batches.router)
    app.include_router(level_three.router)
    app.include_router(sim_checks.router)
    app.include_router(checkout.router)
    app.include_router(admin.router)
    app.include_router(v3.router)
    return app
