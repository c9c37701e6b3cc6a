"""The content app's wire types: JSON bodies and HTML forms, parsed once at the boundary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from knowledge.articles import CHANNELS

ARTICLE_FIELDS = ("id", "title", "summary", "owner", "moments", "channels")


class WireInvalid(ValueError):
    """A request body or form breaks the expected shape; ``path`` names the field."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class ArticleDraft:
    """Article fields as typed by a person, before validation."""

    meta: dict[str, Any]
    body: str
    base_version: int | None = None
    note: str = ""


@dataclass(frozen=True)
class PreviewRequest:
    question: str
    k: int = 5
    moment: str | None = None
    channel: str | None = None
    draft: ArticleDraft | None = None


#: What an article's JSON body may hold besides its fields.
DRAFT_KEYS = (*ARTICLE_FIELDS, "body", "base_version", "note")


def draft_from_json(data: Any, article_id: str | None = None) -> ArticleDraft:
    data = json_object(data)
    unknown = sorted(str(k) for k in data if k not in DRAFT_KEYS)
    if unknown:  # "status": status changes by publish and retire, never by an edit
        raise WireInvalid(f"$.{unknown[0]}", f"unknown field; an article's body takes "
                                             f"{', '.join(DRAFT_KEYS)}")
    meta = {k: data[k] for k in ARTICLE_FIELDS if k in data}
    if article_id is not None:
        meta["id"] = article_id
    body = data.get("body", "")
    if not isinstance(body, str):
        raise WireInvalid("$.body", "must be text")
    return ArticleDraft(meta, body, _optional_int(data.get("base_version"), "$.base_version"),
                        str(data.get("note") or "")[:500])


def draft_from_form(form: Mapping[str, Any], article_id: str | None = None) -> ArticleDraft:
    """Moments come as a comma-separated list, channels as repeated checkboxes."""
    channels = [c for c in _all(form, "channels") if isinstance(c, str)]
    meta: dict[str, Any] = {
        "id": article_id or str(form.get("id", "")).strip(),
        "title": str(form.get("title", "")), "summary": str(form.get("summary", "")),
        "owner": str(form.get("owner", "")),
        "moments": [m.strip() for m in str(form.get("moments", "")).split(",") if m.strip()],
        "channels": channels or list(CHANNELS),
    }
    return ArticleDraft(meta, str(form.get("body", "")).replace("\r\n", "\n"),
                        _optional_int(form.get("base_version") or None, "base_version"),
                        str(form.get("note", ""))[:500])


def preview_from(data: Mapping[str, Any], draft: ArticleDraft | None = None) -> PreviewRequest:
    question = str(data.get("question") or data.get("q") or "").strip()
    if not question:
        raise WireInvalid("question", "type a customer question")
    k = _optional_int(data.get("k") or None, "k") or 5
    if not 1 <= k <= 20:
        raise WireInvalid("k", "must be between 1 and 20")
    return PreviewRequest(question[:2000], k, str(data.get("moment") or "") or None,
                          str(data.get("channel") or "") or None, draft)


def version_from(data: Mapping[str, Any], required: bool) -> int | None:
    version = _optional_int(data.get("version") or None, "version")
    if required and version is None:
        raise WireInvalid("version", "say which version")
    return version


#: The longest window the gaps worklist covers, in days.
MAX_GAP_DAYS = 365


def gap_days_from(data: Mapping[str, Any], default: float = 30.0) -> float:
    """``days`` of the gaps worklist: a number above 0, at most MAX_GAP_DAYS."""
    raw = data.get("days")
    if raw is None or raw == "":
        return default
    try:
        days = float(raw)
    except (TypeError, ValueError):
        raise WireInvalid("days", f"{raw!r} is not a number") from None
    if not 0 < days <= MAX_GAP_DAYS:  # NaN fails too
        raise WireInvalid("days", f"must be above 0 and at most {MAX_GAP_DAYS}, got {raw!r}")
    return days


#: The largest version number (or count) a request may name: a database integer.
MAX_WHOLE = 2**31 - 1


def _optional_int(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and not value.is_integer():  # 1.9 is not version 1
        raise WireInvalid(path, f"{value!r} is not a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity
        raise WireInvalid(path, f"{value!r} is not a whole number") from None
    if isinstance(value, bool) or not 1 <= number <= MAX_WHOLE:
        raise WireInvalid(path, f"must be a whole number from 1 to {MAX_WHOLE}")
    return number


def json_object(data: Any) -> dict[str, Any]:
    """A JSON request body that must be an object."""
    if not isinstance(data, dict):
        raise WireInvalid("$", "the body must be a JSON object")
    return data


def _all(form: Mapping[str, Any], key: str) -> list[Any]:
    getall = getattr(form, "getall", None)
    if getall is not None:
        return list(getall(key, []))
    value = form.get(key)
    return value if isinstance(value, list) else ([] if value is None else [value])
