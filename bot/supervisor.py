"""Starts the Rasa server, the action server and the desk service; stops them together.

Each process logs to ``<data>/logs/<name>.log``. Start-up waits until each answers its
health check; a process that dies is reported with the tail of its log, and the others are
stopped. Ctrl-C (or SIGTERM) stops all three cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

from bot.build import rasa_env
from bot.settings import REPO, Settings

STOP_SECONDS = 15


class ProcessDied(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests and benchmarks)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Ctrl-C to a process started with ``start_new_session``, then SIGKILL after ``timeout``."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Service:
    name: str
    command: list[str]
    health: Callable[[], bool]
    start_timeout: float
    #: A log line that means start-up failed although the process lives on.
    failure_marker: str | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{self.name}.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.command, cwd=REPO, env=rasa_env(),
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def tail(self, lines: int = 25) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()


def http_ok(url: str, data: dict[str, object] | None = None) -> Callable[[], bool]:
    def check() -> bool:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=2) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False
    return check


def services(settings: Settings, model: Path, endpoints: Path, credentials: Path) -> list[Service]:
    python = sys.executable
    return [
        Service("desk", [python, "-m", "desk"], http_ok(f"{settings.desk_url}/health"), 60),
        Service("actions", [python, "-m", "actions"],
                http_ok(f"{settings.url(settings.actions_port)}/health"), 180),
        # Rasa's own command, with the action response schema checked once (bot/rasa_runtime.py)
        Service("rasa", [python, "-m", "bot.rasa_runtime", "run", "--model", str(model),
                         "--endpoints", str(endpoints), "--credentials", str(credentials),
                         "--interface", settings.host, "--port", str(settings.rasa_port),
                         # one argument: a random token may begin with "-", which argparse
                         # takes for an option when the value comes separately (1 start in 64)
                         "--enable-api", f"--auth-token={settings.rasa_token}", "--cors", "*"],
                http_ok(f"{settings.rasa_url}/model/parse?token={quote(settings.rasa_token)}",
                        {"text": "hello"}), 240, failure_marker="Could not load model"),
    ]


class Supervisor:
    """Owns the three processes for the lifetime of ``mot up``."""

    def __init__(self, settings: Settings, services: list[Service],
                 say: Callable[[str], None]) -> None:
        self.settings, self.services, self.say = settings, services, say
        self._stopping = False

    def start(self) -> None:
        logs = self.settings.data_dir / "logs"
        for number, service in enumerate(self.services, 1):
            started = time.perf_counter()
            self.say(f"[{number}/{len(self.services)}] starting {service.name} "
                     f"(log: {logs / (service.name + '.log')})")
            service.start(logs)
            self._wait_healthy(service)
            self.say(f"      {service.name} is healthy after {time.perf_counter() - started:.1f} s")

    def _wait_healthy(self, service: Service) -> None:
        deadline = time.monotonic() + service.start_timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if service.failure_marker and service.failure_marker in service.tail(200):
                raise ProcessDied(f"{service.name} failed to start; last lines of its log:\n"
                                  f"{service.tail()}")
            if service.health():
                return
            time.sleep(0.5)
        raise ProcessDied(f"{service.name} did not become healthy within "
                          f"{service.start_timeout:.0f} s; last lines of its log:\n"
                          f"{service.tail()}")

    def _check_alive(self) -> None:
        for service in self.services:
            code = service.exit_code()
            if service.process is not None and code is not None:
                raise ProcessDied(f"{service.name} exited with code {code}; last lines of "
                                  f"its log ({service.log_path}):\n{service.tail()}")

    def watch(self) -> None:
        """Blocks until a process dies (raises) or the supervisor is asked to stop."""
        while not self._stopping:
            self._check_alive()
            time.sleep(0.5)

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
