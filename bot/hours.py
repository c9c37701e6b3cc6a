"""Business hours: when the customer may expect a person (``MOT_BUSINESS_HOURS``).

Format: ``always``, or days and hours such as ``mon-fri 08:00-18:00`` (several ranges
separated by ``;``, e.g. ``mon-fri 08:00-18:00; sat 09:00-13:00``), in ``MOT_BUSINESS_TZ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.settings import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+"
                    r"(?P<h1>\d\d):(?P<m1>\d\d)-(?P<h2>\d\d):(?P<m2>\d\d)\s*$")


@dataclass(frozen=True)
class BusinessHours:
    ranges: tuple[tuple[frozenset[int], time, time], ...]  # (weekdays, opens, closes)
    zone: ZoneInfo
    text: str

    def is_open(self, moment: datetime) -> bool:
        if not self.ranges:
            return True
        local = moment.astimezone(self.zone)
        now = local.time()
        return any(local.weekday() in days and opens <= now < closes
                   for days, opens, closes in self.ranges)


def parse_hours(text: str, zone: str) -> BusinessHours:
    """Raises ConfigError naming MOT_BUSINESS_HOURS / MOT_BUSINESS_TZ on a bad value."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("MOT_BUSINESS_TZ", zone, "unknown time zone") from None
    if text.strip().lower() in ("", "always", "24/7"):
        return BusinessHours((), tz, "always")
    ranges = []
    for part in text.lower().split(";"):
        match = _RANGE.match(part)
        if not match or match["d1"] not in DAYS or (match["d2"] or match["d1"]) not in DAYS:
            raise ConfigError("MOT_BUSINESS_HOURS", text,
                              "expected e.g. 'mon-fri 08:00-18:00; sat 09:00-13:00'")
        first, last = DAYS.index(match["d1"]), DAYS.index(match["d2"] or match["d1"])
        closes = (time(23, 59, 59, 999999) if match["h2"] == "24"
                  else time(int(match["h2"]), int(match["m2"])))
        ranges.append((frozenset(range(first, last + 1)),
                       time(int(match["h1"]), int(match["m1"])), closes))
    # the customer reads it, so it names its time zone
    return BusinessHours(tuple(ranges), tz, f"{text.strip()}, {zone} time")
