"""The managers' moments dashboard: :mod:`desk.insight`'s figures as a page and as JSON.

``GET /insight?days=N[&channel=C]`` (managers and supervisors) and ``GET
/api/insight?days=N[&channel=C]`` (the same, or the service token, for other tools). Both
read the same :func:`desk.insight.report`; ``channel`` narrows it to one channel.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import aiohttp_jinja2
from aiohttp import web

from desk import state as s
from desk.auth import require
from desk.insight import (
    MIN_BASELINE_DAYS,
    InsightLog,
    Report,
    channel_param,
    days_param,
    report,
    sparkline,
)

INSIGHT = web.AppKey("insight", InsightLog)
WINDOWS = (1, 7, 28, 90)


def _days_and_channel(request: web.Request) -> tuple[int, str | None]:
    try:
        return (days_param(request.query.get("days")),
                channel_param(request.query.get("channel")))
    except ValueError as error:  # JSON on the API, a page for a person (desk.pages)
        raise web.HTTPBadRequest(text=json.dumps({"error": str(error)}),
                                 content_type="application/json") from None


async def _report(request: web.Request, days: int, channel: str | None) -> Report:
    return await report(request.app[INSIGHT], request.app[s.CATALOGUE], time.time(), days,
                        channel)


@require("manager", "supervisor", service=True)
async def insight_api(request: web.Request) -> web.Response:
    return web.json_response((await _report(request, *_days_and_channel(request))).to_json())


@require("manager", "supervisor")
async def insight_page(request: web.Request) -> web.Response:
    days, channel = _days_and_channel(request)
    found = await _report(request, days, channel)
    return aiohttp_jinja2.render_template("insight.html", request, {
        "report": found, "days": days, "windows": WINDOWS, "sparkline": sparkline,
        "min_baseline_days": MIN_BASELINE_DAYS,
        "channel_title": channel_title,
        "percent": percent, "duration": duration, "refresh_seconds": REFRESH_SECONDS,
        "until": datetime.fromtimestamp(found.until, timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC")})


NOTHING = "\N{EN DASH}"  # shown where nothing was counted
#: The page reloads itself this often, so a dashboard left open on a screen stays current.
REFRESH_SECONDS = 300
#: How the page names Rasa's input channels; others show as they are named.
CHANNEL_TITLES = {"socketio": "web chat", "rest": "REST"}


def channel_title(name: str) -> str:
    return CHANNEL_TITLES.get(name, name)


def percent(share: float | None) -> str:
    return NOTHING if share is None else f"{share:.0%}"


def duration(seconds: float | None) -> str:
    """"45 s", "12 min", "3.5 h", "2.0 days"; :data:`NOTHING` when nothing was resolved."""
    if seconds is None:
        return NOTHING
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def add_insight_routes(app: web.Application) -> None:
    app.router.add_get("/insight", insight_page)
    app.router.add_get("/api/insight", insight_api)
