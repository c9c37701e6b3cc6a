"""A stand-in for Telegram's Bot API on loopback: records every call, answers ``ok``.

The assistant's Telegram channel is pointed at it with ``MOT_TELEGRAM_API_URL``; tests post
updates to the channel's webhook as Telegram would, and read what the bot sent here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from aiohttp import web

from bot.supervisor import free_port

TOKEN = "123456789:TEST-token-for-the-fake-bot-api"


class FakeTelegram:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: the next calls' flood control: each entry answers one call with a 429 asking to
        #: wait that many seconds (Telegram's ``parameters.retry_after``)
        self.flood: list[float] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> FakeTelegram:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._call)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _call(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        payload = await request.json()
        with self._lock:
            if self.flood:
                wait = self.flood.pop(0)
                return web.json_response(
                    {"ok": False, "error_code": 429, "parameters": {"retry_after": wait},
                     "description": f"Too Many Requests: retry after {wait}"}, status=429)
            self.calls.append((request.match_info["method"], payload))
        return web.json_response({"ok": True, "result": {"message_id": len(self.calls)}})

    def sent(self, chat_id: str) -> list[dict[str, Any]]:
        """What the bot sent to the chat (sendMessage payloads), in order."""
        with self._lock:
            return [p for m, p in self.calls if m == "sendMessage" and str(p["chat_id"]) == chat_id]

    def wait_for(self, chat_id: str, fragment: str, timeout: float = 30) -> list[dict[str, Any]]:
        """The messages sent to the chat once one contains ``fragment``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sent = self.sent(chat_id)
            if any(fragment in m.get("text", "") for m in sent):
                return sent
            time.sleep(0.1)
        raise AssertionError(f"{fragment!r} never sent to {chat_id}: {self.sent(chat_id)}")
