"""Shared fixtures: paths, fakes, the real model, the running assistant, a real browser.

Expensive things are session-scoped: the embedder (loaded once), the running assistant
(``mot up`` started once for all e2e tests) and the browser.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.supervisor import free_port, stop_group
from tests.fake_telegram import TOKEN as TELEGRAM_TOKEN
from tests.fake_telegram import FakeTelegram

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("MOT_CHROMIUM", "/usr/bin/chromium")
#: The website's customer-token secret the test assistant shares (channels/identity.py).
CUSTOMER_TOKEN_SECRET = "test-secret-of-the-website-0123456789"
#: Every host but loopback fails to resolve: no test reaches outside this machine.
HOST_RULES = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , "
              "EXCLUDE 127.0.0.1 , EXCLUDE [::1]")

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def catalogue():  # type: ignore[no-untyped-def]
    from bot.catalogue import load_catalogue

    return load_catalogue(REPO / "bot" / "moments.yml")


@pytest.fixture(scope="session")
def articles(catalogue):  # type: ignore[no-untyped-def]
    from knowledge.articles import load_articles

    return load_articles(REPO / "knowledge" / "articles", catalogue.ids)


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """all-MiniLM-L6-v2 from the installed package, loaded once."""
    from knowledge.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@dataclass(frozen=True)
class RunningAssistant:
    rasa_url: str
    desk_url: str
    actions_url: str
    desk_token: str
    rasa_token: str
    data_dir: Path
    env: dict[str, str]

    @property
    def rest_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"


def _wait_ready(process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mot up exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')[-4000:]}")
        if "Press Ctrl-C to stop." in log.read_text(errors="replace"):
            return
        time.sleep(1)
    raise RuntimeError(f"mot up not ready in {timeout:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-4000:]}")


@contextmanager
def running_assistant(data_dir: Path, extra_env: dict[str, str] | None = None
                      ) -> Iterator[RunningAssistant]:
    """``mot up`` on free loopback ports with ``data_dir``, until the block ends."""
    ports = {"MOT_RASA_PORT": free_port(), "MOT_ACTIONS_PORT": free_port(),
             "MOT_DESK_PORT": free_port()}
    env = {**os.environ, "MOT_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO),
           "MOT_CUSTOMER_TOKEN_SECRET": CUSTOMER_TOKEN_SECRET,
           **{k: str(v) for k, v in ports.items()}, **(extra_env or {})}
    log = data_dir / "up.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "bot", "up"], cwd=REPO, env=env,
                                   stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        _wait_ready(process, log, timeout=900)
        secrets = data_dir / "secrets"
        yield RunningAssistant(
            rasa_url=f"http://127.0.0.1:{ports['MOT_RASA_PORT']}",
            desk_url=f"http://127.0.0.1:{ports['MOT_DESK_PORT']}",
            actions_url=f"http://127.0.0.1:{ports['MOT_ACTIONS_PORT']}",
            desk_token=(secrets / "desk-token").read_text().strip(),
            rasa_token=(secrets / "rasa-token").read_text().strip(),
            data_dir=data_dir, env=env,
        )
    finally:
        stop_group(process)


@pytest.fixture(scope="session")
def telegram() -> Iterator[FakeTelegram]:
    """A stand-in for Telegram's Bot API on loopback, which the assistant's channel calls."""
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory,
              telegram: FakeTelegram) -> Iterator[RunningAssistant]:
    """The whole assistant started by ``mot up`` on free loopback ports and a fresh data dir,
    with the Telegram channel on (its Bot API: the ``telegram`` fixture)."""
    with running_assistant(tmp_path_factory.mktemp("mot-data"), {
            "MOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "MOT_TELEGRAM_API_URL": telegram.url}) as running:
        yield running


def _loopback_only(route) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import urlparse

    host = urlparse(route.request.url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1", "[::1]"):
        route.continue_()
    else:
        route.abort()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium, headless, driven by Playwright; never a browser download.

    Module-scoped: Playwright's sync API keeps an event loop running while it is open,
    which would stop pytest-asyncio from running the async tests that follow.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=[HOST_RULES, "--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh browser context whose every non-loopback request is aborted."""
    context = browser.new_context()
    context.route("**/*", _loopback_only)
    tab = context.new_page()
    yield tab
    context.close()


def http_json(url: str, data: object | None = None, token: str | None = None,
              method: str | None = None) -> tuple[int, object]:
    """Small blocking JSON client for e2e tests."""
    import json

    body = None if data is None else (data if isinstance(data, bytes) else
                                      json.dumps(data).encode())
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def browser_sign_in(page, desk_url: str, name: str, password: str,  # type: ignore[no-untyped-def]
                    home: str) -> None:
    """Opens ``home`` on the desk, is sent to the sign-in form, signs in, lands on ``home``."""
    page.goto(f"{desk_url}{home}")
    assert "/login" in page.url
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', password)
    page.click("#sign-in")
    page.wait_for_url(f"{desk_url}{home}")
