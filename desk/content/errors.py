"""Content errors to HTTP statuses, in one place: JSON under /api/, text on pages."""

from __future__ import annotations

import json

from aiohttp import web

from desk.auth import Handler
from desk.content.service import ContentInvalid
from desk.content.wire import WireInvalid
from knowledge.articles import ArticleError
from knowledge.snapshot import KnowledgeIndexUnavailable
from knowledge.store import ArticleConflict, ArticleNotFound

PREFIXES = ("/content", "/api/articles", "/api/knowledge")


@web.middleware
async def content_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(PREFIXES):
        return await handler(request)
    try:
        return await handler(request)
    except ContentInvalid as invalid:
        return _reply(request, 422, "the article has errors", invalid.review.to_json())
    except ArticleNotFound as missing:
        return _reply(request, 404, str(missing))
    except ArticleConflict as conflict:
        return _reply(request, 409, str(conflict))
    except (WireInvalid, ArticleError) as invalid:
        return _reply(request, 422 if isinstance(invalid, ArticleError) else 400, str(invalid))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return _reply(request, 400, f"the body is not valid JSON: {error}")
    except KnowledgeIndexUnavailable as error:
        return _reply(request, 503, str(error))


def _reply(request: web.Request, status: int, message: str,
           extra: dict[str, object] | None = None) -> web.Response:
    if request.path.startswith("/api/"):
        return web.json_response({"error": message, **(extra or {})}, status=status)
    return web.Response(text=message, status=status)
