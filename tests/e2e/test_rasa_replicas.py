"""Scale-out: two Rasa replicas on one PostgreSQL tracker store and one Redis.

A web-chat customer connected to replica A hears a line sent through replica B, as the
desk's lines are when a load balancer picks the replica; a line sent while the customer is
away waits in Redis and reaches them when they come back, on either replica.
"""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.build import rasa_env, train
from bot.settings import load_settings
from bot.supervisor import free_port, services, stop_group
from tests.conftest import RunningAssistant, running_assistant
from tests.e2e.test_core_flows_socketio import WebchatClient, text_of
from tests.integration.test_desk_store_contract import _drop, _postgres_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass(frozen=True)
class Replicas:
    first: RunningAssistant  # `mot up`: desk, actions and Rasa replica A
    second_url: str  # Rasa replica B, the same endpoints and credentials


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    database = asyncio.run(_postgres_database())
    if database is None:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    shared = {"MOT_TRACKER_STORE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
              "MOT_LOCK_STORE_URL": "redis://127.0.0.1:6379/2"}
    data_dir = tmp_path_factory.mktemp("mot-replicas")
    try:
        with running_assistant(data_dir, shared) as first:
            port = free_port()
            settings = load_settings({**first.env, "MOT_RASA_PORT": str(port)})
            folder = settings.data_dir / "rasa"
            rasa = services(settings, train(settings, print), folder / "endpoints.yml",
                            folder / "credentials.yml")[-1]
            with (data_dir / "rasa-b.log").open("wb") as log:
                second = subprocess.Popen(rasa.command, env={**rasa_env(), **first.env},
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
            try:
                _wait(rasa.health, second, data_dir / "rasa-b.log")
                yield Replicas(first, f"http://127.0.0.1:{port}")
            finally:
                stop_group(second)
    finally:
        asyncio.run(_drop(database))


def _wait(ready, process: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"replica B did not start:\n{log.read_text()[-3000:]}")
        time.sleep(1)


def send_through(rasa_url: str, token: str, session: str, text: str) -> None:
    """A line to the customer through one replica's HTTP API, as the desk sends an agent's."""
    url = (f"{rasa_url}/conversations/{quote(session)}/tracker/events?token={quote(token)}"
           "&execute_side_effects=true&output_channel=latest&include_events=NONE")
    body = json.dumps([{"event": "bot", "text": text, "timestamp": time.time()}]).encode()
    request = urllib.request.Request(url, data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200


def heard(client: WebchatClient, timeout: float = 15) -> list[str]:
    texts = [client.replies.get(timeout=timeout).get("text", "")]
    while True:
        try:
            texts.append(client.replies.get(timeout=1.5).get("text", ""))
        except queue.Empty:
            return texts


def test_a_line_sent_through_either_replica_reaches_the_customer(replicas: Replicas) -> None:
    first, token = replicas.first, replicas.first.rasa_token
    customer = WebchatClient(first.rasa_url)  # on replica A
    try:
        assert "passed your conversation to a person" in text_of(
            customer.say("let me speak to a real person"))
        send_through(replicas.second_url, token, customer.session_id, "Hi, this is Ann.")
        assert heard(customer) == ["Hi, this is Ann."]
    finally:
        customer.close()
    send_through(replicas.second_url, token, customer.session_id, "Still there?")
    send_through(first.rasa_url, token, customer.session_id, "I'll wait.")
    back = WebchatClient(replicas.second_url, customer.session_id)  # back, on replica B
    try:
        assert heard(back) == ["Still there?", "I'll wait."]
        send_through(first.rasa_url, token, customer.session_id, "Welcome back.")
        assert heard(back) == ["Welcome back."]
    finally:
        back.close()
