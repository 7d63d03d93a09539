"""The driver page ``/r/{token}``: server-rendered (Jinja2), works on a phone, no script.

GET shows the session (energy so far, the request, the expected finish from the edge's
plan); POST takes the form (save / opt out / withdraw), re-renders it with the error
naming the field (422) or redirects to GET (303) once stored. Times on the page are in
``[drivers] timezone``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from csms.requests.service import RequestService, SessionView
from csms.requests.validate import InvalidRequest, RequestBody, RequestError

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# the URL is a bearer secret: not to referrers, not into shared caches
PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
LABELS = {
    "departure_at": "Departure",
    "energy_kwh": "Energy",
    "distance_miles": "Distance",
    "amount": "Amount",
}


def _local(ts: datetime | None, zone: ZoneInfo, fmt: str = "%a %d %b, %H:%M") -> str:
    return "" if ts is None else ts.astimezone(zone).strftime(fmt)


def form_body(form: dict[str, str], zone: ZoneInfo) -> RequestBody:
    """The page's form as an API body; raises InvalidRequest naming the field."""
    action = form.get("action", "save")
    if action == "opt_out":
        return RequestBody(opt_out=True)
    departure = None
    if text := form.get("departure", "").strip():
        try:
            departure = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidRequest("departure is not a date and time", "departure_at") from exc
        if departure.tzinfo is None:
            departure = departure.replace(tzinfo=zone)
    amount: float | None = None
    if text := form.get("amount", "").strip():
        try:
            amount = float(text)
        except ValueError as exc:
            raise InvalidRequest("amount is not a number", "amount") from exc
    miles = form.get("unit") == "miles"
    try:
        return RequestBody(
            departure_at=departure,
            energy_kwh=None if miles else amount,
            distance_miles=amount if miles else None,
        )
    except ValidationError as exc:  # not expected: the fields are typed above
        raise InvalidRequest(str(exc), "amount") from exc


class Renderer:
    """The page for a session (or for an error when there is none)."""

    def __init__(self, timezone: str):
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)

    def __call__(
        self,
        request: Request,
        token: str,
        view: SessionView | None,
        *,
        status: int = 200,
        error: RequestError | None = None,
        form: dict[str, str] | None = None,
        saved: str | None = None,
    ) -> Response:
        zone = self.zone
        req = view.request if view is not None else None
        values = form or {
            "departure": _local(req.departure_at if req else None, zone, "%Y-%m-%dT%H:%M"),
            "amount": "" if req is None else _amount(req.energy_kwh, req.distance_miles),
            "unit": "miles" if req is not None and req.distance_miles is not None else "kwh",
        }
        context: dict[str, Any] = {
            "token": token,
            "view": view,
            "req": req,
            "plan": view.plan if view is not None else None,
            "error": error,
            "error_label": LABELS.get(error.field or "", "") if error else "",
            "values": values,
            "saved": saved,
            "local": lambda ts: _local(ts, zone),
            "zone": self.timezone,
        }
        response = TEMPLATES.TemplateResponse(request, "session.html", context, status_code=status)
        response.headers.update(PRIVATE_HEADERS)
        return response


def router(service: RequestService) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    render = Renderer(service.settings.timezone)

    @pages.get("/r/{token}", response_class=HTMLResponse)
    async def page(request: Request, token: str, saved: str | None = None) -> Response:
        try:
            view = await service.session(token)
        except RequestError as exc:
            return render(request, token, None, status=exc.status, error=exc)
        status = 410 if view.ended_at is not None else 200
        return render(request, token, view, status=status, saved=saved)

    @pages.post("/r/{token}", response_class=HTMLResponse)
    async def submit(request: Request, token: str) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        action = form.get("action", "save")
        try:
            if action == "withdraw":
                await service.withdraw(token)
            else:
                await service.submit(token, form_body(form, render.zone))
        except RequestError as exc:
            try:
                view: SessionView | None = await service.session(token)
            except RequestError:
                view = None
            return render(request, token, view, status=exc.status, error=exc, form=form)
        return RedirectResponse(f"/r/{token}?saved={action}", status_code=303)

    return pages


def _amount(energy_kwh: float | None, distance_miles: float | None) -> str:
    value = distance_miles if distance_miles is not None else energy_kwh
    return "" if value is None else f"{value:g}"
