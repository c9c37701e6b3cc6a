"""The content staff's knowledge app inside the desk service: pages, JSON API, live index.

``setup_content(app, settings)`` is called by ``desk.app.init_app``. It opens the article
store (seeded from the shipped files on first start), loads the embedder once, follows the
live snapshot, and registers /content pages and the /api/articles and /api/knowledge API.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.settings import Settings
from knowledge.embedder import Embedder

__all__ = ["setup_content"]


def setup_content(app: web.Application, settings: Settings,
                  embedder_factory: Callable[[], Embedder] | None = None) -> None:
    """Registers the content app on ``app``; ``embedder_factory`` is for tests (a fake)."""
    from desk.content import api, pages
    from desk.content.errors import content_errors
    from desk.content.state import content_context

    app.middlewares.append(content_errors)
    app.cleanup_ctx.append(content_context(settings, embedder_factory))
    api.add_routes(app)
    pages.add_routes(app)
