"""The driver JSON API (``/api/v1/driver/...``) and the ASGI app that also serves the page.

Handlers are thin: everything is :class:`csms.requests.service.RequestService`.
Errors: 422 ``{"detail": [{"loc": ["body", field], "msg": ..., "type": ...}]}``,
404 unknown token, 410 session ended, 409 changed concurrently.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from csms.requests.service import RequestService, SessionView
from csms.requests.validate import InvalidRequest, RequestBody, RequestError


class RequestOut(BaseModel):
    departure_at: datetime | None
    energy_kwh: float | None
    distance_miles: float | None
    opt_out: bool
    revision: int
    submitted_at: datetime


class PlanOut(BaseModel):
    expected_finish_at: datetime | None
    target_energy_kwh: float | None
    planned_energy_kwh: float | None
    limit_kw: float | None
    reason: str | None


class SessionOut(BaseModel):
    station_id: str
    connector_id: int
    transaction_id: str
    started_at: datetime | None
    ended_at: datetime | None
    energy_kwh: float | None
    request: RequestOut | None
    plan: PlanOut | None


class WithdrawnOut(BaseModel):
    withdrawn: bool
    revision: int


class ErrorOut(BaseModel):
    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no session has this token"},
    410: {"model": ErrorOut, "description": "the session has ended (or the token is replayed)"},
}


def session_out(view: SessionView) -> SessionOut:
    return SessionOut.model_validate(asdict(view))


def error_body(exc: RequestError) -> dict[str, Any]:
    if isinstance(exc, InvalidRequest):
        loc = ["body", exc.field] if exc.field else ["body"]
        return {"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}
    return {"detail": exc.message}


def router(service: RequestService) -> APIRouter:
    api = APIRouter(prefix="/api/v1/driver", tags=["driver requests"])

    @api.get("/sessions/{token}", responses=ERRORS)
    async def get_session(token: str) -> SessionOut:
        """The session behind a driver link: energy so far, the request, the edge's plan."""
        return session_out(await service.session(token))

    @api.put(
        "/sessions/{token}/request",
        responses={**ERRORS, 409: {"model": ErrorOut, "description": "changed meanwhile"}},
    )
    async def put_request(token: str, body: RequestBody) -> RequestOut:
        """Submit or change the request (each change is a new revision)."""
        view = await service.submit(token, body)
        return RequestOut.model_validate(asdict(view))

    @api.delete("/sessions/{token}/request", responses=ERRORS)
    async def delete_request(token: str) -> WithdrawnOut:
        """Withdraw the request: the session charges as if none was made."""
        return WithdrawnOut(withdrawn=True, revision=await service.withdraw(token))

    return api


def create_app(service: RequestService) -> FastAPI:
    from csms.http import pages  # the page module needs jinja2 only when served

    app = FastAPI(
        title="evsite CSMS — driver requests",
        version="1",
        description="Drivers tell the site when they leave and how much energy they need.",
    )

    @app.exception_handler(RequestError)
    async def _refused(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(error_body(exc), status_code=exc.status)

    app.include_router(router(service))
    app.include_router(pages.router(service))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
