"""Early warnings pushed out: a moment's spike (desk.insight), once per moment and day.

Every desk replica checks every :data:`ALERT_SECONDS`; the first to record a moment and UTC
day in ``desk_insight_alerts`` sends the warning, so replicas do not repeat it. It is
logged, and POSTed as JSON to ``MOT_ALERT_WEBHOOK_URL`` when set: a ``text`` line (what
Slack's and Teams' incoming webhooks show) and the figures. A webhook that fails is tried
again at the next check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import Any

import aiohttp
import sqlalchemy as sa

from bot.catalogue import Catalogue
from desk.insight import EarlyWarning, InsightLog, report
from desk.tables import insert_ignoring_duplicates, insight_alerts

log = logging.getLogger(__name__)

ALERT_SECONDS = 300.0


def alert_json(warning: EarlyWarning, dashboard_url: str) -> dict[str, Any]:
    return {
        "text": (f"Early warning, {warning.title}: {warning.last_day} contacts in the last "
                 f"24 hours against about {warning.expected:.1f} a day. {dashboard_url}"),
        "moment": warning.moment, "title": warning.title, "contacts": warning.last_day,
        "expected_per_day": warning.expected, "p_value": warning.p_value,
        "examples": list(warning.examples), "dashboard": dashboard_url}


class Alerts:
    """Sends each new early warning once (per moment and UTC day) across replicas."""

    def __init__(self, insight: InsightLog, catalogue: Catalogue, session: aiohttp.ClientSession,
                 webhook_url: str | None, dashboard_url: str) -> None:
        self._insight, self._catalogue, self._session = insight, catalogue, session
        self._webhook, self._dashboard = webhook_url, dashboard_url

    async def check(self, now: float | None = None) -> list[EarlyWarning]:
        """Sends the warnings not sent yet today; returns them."""
        now = time.time() if now is None else now
        day = datetime.fromtimestamp(now, timezone.utc).date().isoformat()
        sent = []
        for warning in (await report(self._insight, self._catalogue, now, 1)).warnings:
            if not await self._claim(warning, day, now):
                continue  # sent already, by this replica or another
            log.warning("early warning: %s, %d contacts in the last 24 hours (about %.1f a "
                        "day usually)", warning.moment, warning.last_day, warning.expected)
            if self._webhook and not await self._post(warning):
                await self._release(warning, day)  # try again at the next check
                continue
            sent.append(warning)
        return sent

    async def keep_checking(self, every: float = ALERT_SECONDS) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("early warnings: the check failed; will retry")
            await asyncio.sleep(every)

    async def _post(self, warning: EarlyWarning) -> bool:
        assert self._webhook is not None
        try:
            async with self._session.post(self._webhook, json=alert_json(warning, self._dashboard),
                                          timeout=aiohttp.ClientTimeout(total=10)) as reply:
                if reply.status < 300:
                    return True
                log.error("early warning webhook answered %d", reply.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            log.error("early warning webhook failed: %s", error)
        return False

    async def _claim(self, warning: EarlyWarning, day: str, now: float) -> bool:
        engine = self._insight.engine
        async with engine.begin() as connection:
            inserted = await connection.execute(insert_ignoring_duplicates(engine, insight_alerts),
                                                {"moment": warning.moment, "day": day, "at": now,
                                                 "contacts": warning.last_day})
        return bool(inserted.rowcount)

    async def _release(self, warning: EarlyWarning, day: str) -> None:
        async with self._insight.engine.begin() as connection:
            await connection.execute(sa.delete(insight_alerts).where(
                insight_alerts.c.moment == warning.moment, insight_alerts.c.day == day))
