"""A socket.io customer for the desk's end-to-end tests (rasa-webchat's protocol)."""

from __future__ import annotations

import queue
import subprocess
import sys
import time
import uuid
from pathlib import Path

import socketio

REPO = Path(__file__).resolve().parents[2]


class Customer:
    """session_request/confirm, then user_uttered out and bot_uttered in."""

    def __init__(self, url: str, session_id: str | None = None) -> None:
        self.session_id = session_id or uuid.uuid4().hex  # the same id: back in a new tab
        self.replies: queue.Queue[dict] = queue.Queue()
        confirmed: queue.Queue[str] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("bot_uttered", self.replies.put)
        self.sio.on("session_confirm", confirmed.put)
        for attempt in range(5):  # a loaded machine may refuse the first connection
            try:
                # Long-polling: the sync client needs websocket-client for WebSockets.
                self.sio.connect(url, socketio_path="/socket.io", transports=["polling"])
                break
            except socketio.exceptions.ConnectionError:
                if attempt == 4:
                    raise
                time.sleep(2)
        self.sio.emit("session_request", {"session_id": self.session_id})
        assert confirmed.get(timeout=10) == self.session_id

    def say(self, text: str) -> None:
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def next_text(self, timeout: float = 30) -> str:
        return str(self.replies.get(timeout=timeout).get("text", ""))

    def wait_for(self, fragment: str, timeout: float = 30) -> list[str]:
        """Every text received up to and including the first containing ``fragment``."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{fragment!r} never arrived; got {seen}")
            try:
                seen.append(self.next_text(left))
            except queue.Empty:
                continue
            if fragment in seen[-1]:
                return seen

    def close(self) -> None:
        self.sio.disconnect()


def add_user(env: dict[str, str], name: str, password: str, role: str,
             skills: tuple[str, ...] = ()) -> None:
    """Creates a desk user through the CLI, the way an operator would."""
    command = [sys.executable, "-m", "desk", "users", "add", name, "--role", role]
    for skill in skills:
        command += ["--skill", skill]
    subprocess.run(command, env={**env, "MOT_NEW_PASSWORD": password}, cwd=REPO, check=True,
                   capture_output=True, timeout=60)


def add_agent(env: dict[str, str], name: str, password: str,
              skills: tuple[str, ...] = ("general", "delivery")) -> None:
    add_user(env, name, password, "agent", skills)
