"""Application factory: API routers, page routers, static files and error handlers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from anju import __version__, uploads
from anju.agreement import api as agreement_api
from anju.agreement import jobs as agreement_jobs
from anju.agreement import pages as agreement_pages
from anju.audit import anchoring
from anju.audit import api as audit_api
from anju.audit import pages as audit_pages
from anju.campaign import api as campaign_api
from anju.campaign import pages as campaign_pages
from anju.compensation import api as compensation_api
from anju.compensation import draft_pages, scenario_api, scenario_pages
from anju.compensation import pages as compensation_pages
from anju.config import get_settings
from anju.core import redaction
from anju.grid import api as grid_api
from anju.grid import pages as grid_pages
from anju.household import api as household_api
from anju.household import import_pages
from anju.household import pages as household_pages
from anju.housing import api as housing_api
from anju.housing import (
    calculator_api,
    calculator_pages,
    flat_type_api,
    flat_type_pages,
    screen_api,
    screen_pages,
)
from anju.housing import handover_api as housing_handover_api
from anju.housing import handover_pages as housing_handover_pages
from anju.housing import jobs as housing_jobs
from anju.housing import pages as housing_pages
from anju.housing import selection_api as housing_selection_api
from anju.housing import selection_pages as housing_selection_pages
from anju.housing import settlement_api as housing_settlement_api
from anju.housing import settlement_pages as housing_settlement_pages
from anju.identity import api as identity_api
from anju.identity import pages as identity_pages
from anju.payment import api as payment_api
from anju.payment import pages as payment_pages
from anju.project import api as project_api
from anju.project import pages as project_pages
from anju.reporting import api as reporting_api
from anju.reporting import pages as reporting_pages
from anju.service_request import api as service_request_api
from anju.service_request import indicators_api, indicators_pages
from anju.service_request import jobs as service_request_jobs
from anju.web import errors, live, params, security
from anju.web.middleware import UnitOfWorkMiddleware

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _warm_policy_kernels(folder: Path) -> None:
    """Point the policy kernels at ``folder`` and load the recent ones (numba is imported here,
    in a background thread, not while the app starts)."""
    from anju.policy import jit

    jit.set_cache_dir(folder)
    jit.warm()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Size the thread pool that runs blocking route code (see ``Settings.threads``); anchor the
    audit chain's head outside the database every ``Settings.audit_anchor_minutes``; run the live
    hub (change events to the big screens); decide conditional agreements every hour."""
    settings = get_settings()
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, settings.threads)
    uploads.sweep()  # encrypted census uploads and scratch files a killed process left behind
    # Compiled policy kernels live under the data directory (shared by the workers, kept across
    # restarts); the recently used ones are loaded in the background, off the request path.
    threading.Thread(
        target=_warm_policy_kernels, args=(settings.data_dir / "kernels",), name="anju-kernels", daemon=True
    ).start()
    # The live hub: committed change events to the big screens of every worker (anju.web.live).
    async with live.running(app.state, settings), anyio.create_task_group() as tasks:
        if settings.audit_anchor_minutes > 0:
            tasks.start_soon(anchoring.periodic_anchors, settings.audit_anchor_minutes)
        # Conditional agreements (附生效条件) decided as signings and deadlines pass (anju.agreement.jobs).
        tasks.start_soon(agreement_jobs.periodic_condition_checks)
        # Monthly transition fees (过渡费) scheduled as months begin (anju.housing.jobs).
        tasks.start_soon(housing_jobs.periodic_transition_fees)
        # Overdue requests flagged and escalated, unverified ones closed (anju.service_request.jobs).
        tasks.start_soon(service_request_jobs.periodic_escalation)
        yield
        tasks.cancel_scope.cancel()


def create_app() -> FastAPI:
    """Build the Anju web application."""
    redaction.install()  # no identity number in any log line of this process (uvicorn's too)
    app = FastAPI(
        lifespan=lifespan,
        title="安居 Anju API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by anju.web.security (behind a login in production)
        dependencies=[Depends(params.query_guard)],  # no control characters in any query string
    )
    app.add_middleware(UnitOfWorkMiddleware, max_concurrent=2 * max(1, get_settings().threads))
    security.install(app)  # outermost: headers also on the unit of work's own 500
    errors.install(app)
    for module in (identity_api, project_api, household_api, audit_api, compensation_api, reporting_api):
        app.include_router(module.router, prefix="/api/v1")
    for router in [*campaign_api.routers, *agreement_api.routers, payment_api.router, housing_api.router]:
        app.include_router(router, prefix="/api/v1")
    app.include_router(housing_selection_api.router, prefix="/api/v1")
    app.include_router(calculator_api.router, prefix="/api/v1")
    app.include_router(flat_type_api.router, prefix="/api/v1")
    app.include_router(screen_api.router, prefix="/api/v1")  # the selection big screen
    app.include_router(housing_settlement_api.router, prefix="/api/v1")
    app.include_router(housing_handover_api.router, prefix="/api/v1")  # key handover, key dates
    app.include_router(import_pages.api_router, prefix="/api/v1")
    # Indicators of the five-order loop, its monthly report and the public board (#14 item 3): before
    # the request routes, or /service-requests/indicators would be read as a request id.
    app.include_router(indicators_api.router, prefix="/api/v1")
    app.include_router(indicators_pages.router)
    for router in service_request_api.routers:  # the five-order request loop (#14)
        app.include_router(router, prefix="/api/v1")
    for module in (
        identity_pages,
        project_pages,
        household_pages,
        audit_pages,
        compensation_pages,
        import_pages,
    ):
        app.include_router(module.router)
    for router in [
        *campaign_pages.routers,
        *agreement_pages.routers,
        payment_pages.router,
        housing_pages.router,
    ]:
        app.include_router(router)
    app.include_router(housing_selection_pages.router)
    app.include_router(calculator_pages.router)
    app.include_router(flat_type_pages.router)
    app.include_router(screen_pages.router)  # the selection big screen
    app.include_router(housing_settlement_pages.router)
    app.include_router(housing_handover_pages.router)  # the key handover form
    app.include_router(reporting_pages.router)
    # household file parts: attachments, the facts the policy declares (#12 item 1)
    from anju.household import attachment_pages, policy_fact_pages

    app.include_router(attachment_pages.router)
    app.include_router(policy_fact_pages.router)
    # census corrections (更正导入), issue #13 item 7
    from anju.household import correction_pages

    app.include_router(correction_pages.api_router, prefix="/api/v1")
    app.include_router(correction_pages.router)
    # policy drafts in a form and named what-if scenarios (#13 items 5, 6)
    app.include_router(scenario_api.router, prefix="/api/v1")
    app.include_router(draft_pages.router)
    app.include_router(scenario_pages.router)
    # Grid governance (#14): grids, the grid map, public contact cards, mediation.
    app.include_router(grid_api.router, prefix="/api/v1")
    app.include_router(grid_pages.router)
    # volunteer time bank and moral bank, issue #14 item 6
    from anju.time_bank import api as time_bank_api
    from anju.time_bank import pages as time_bank_pages

    app.include_router(time_bank_api.router, prefix="/api/v1")
    app.include_router(time_bank_pages.router)
    from anju.time_bank import volunteer_pages as time_bank_volunteer_pages

    app.include_router(time_bank_volunteer_pages.router)
    from anju.time_bank import moral_pages as time_bank_moral_pages

    app.include_router(time_bank_moral_pages.router)
    # pages of the five-order loop: the office's list, request and forms; residents' phone pages
    from anju.service_request import pages as request_pages
    from anju.service_request import public_pages as request_public_pages

    app.include_router(request_pages.router)
    app.include_router(request_public_pages.router)
    # Open311 GeoReport v2 (#14 item 4): public, its own error format, POST by api_key
    from anju.service_request import open311_api

    app.include_router(open311_api.router)
    STATIC_DIR.mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/projects", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
