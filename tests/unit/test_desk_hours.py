"""Business hours parsing and checking (MOT_BUSINESS_HOURS / MOT_BUSINESS_TZ)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.hours import parse_hours
from bot.settings import ConfigError


def test_always_is_open() -> None:
    assert parse_hours("always", "UTC").is_open(datetime(2026, 1, 4, 3, 0, tzinfo=timezone.utc))


def test_weekday_ranges_in_the_configured_zone() -> None:
    hours = parse_hours("mon-fri 08:00-18:00; sat 09:00-13:00", "Europe/Berlin")
    monday_9_berlin = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    saturday_14_berlin = datetime(2026, 1, 10, 13, 0, tzinfo=timezone.utc)
    sunday_noon = datetime(2026, 1, 11, 11, 0, tzinfo=timezone.utc)
    assert hours.is_open(monday_9_berlin)
    assert not hours.is_open(saturday_14_berlin)
    assert not hours.is_open(sunday_noon)
    assert hours.text == "mon-fri 08:00-18:00; sat 09:00-13:00, Europe/Berlin time"


@pytest.mark.parametrize("text", ["weekdays 9-5", "mon-fri 8:00-18:00", "xyz 08:00-18:00"])
def test_bad_hours_name_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match="MOT_BUSINESS_HOURS"):
        parse_hours(text, "UTC")


def test_bad_zone_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MOT_BUSINESS_TZ"):
        parse_hours("always", "Mars/Olympus")
