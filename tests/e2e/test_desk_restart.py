"""The desk is killed mid-conversation and started again: nothing lost, nothing doubled.

Runs its own Rasa, action server and desk (the ``mot up`` services, started one by one so
the desk alone can be killed), reusing the session assistant's knowledge index. While the
desk is down the customer keeps writing (Rasa's broker holds the events, Rasa's tracker
keeps them) and the agent's browser re-sends a line it never saw acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from bot.build import train
from bot.rasa_config import write_rasa_files
from bot.settings import Settings, load_settings
from bot.supervisor import Service, Supervisor, services
from desk.testing import sign_in
from tests.conftest import RunningAssistant, free_port
from tests.e2e.desk_customer import Customer, add_agent

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Stack:
    def __init__(self, settings: Settings, supervisor: Supervisor, env: dict[str, str]) -> None:
        self.settings, self.supervisor, self.env = settings, supervisor, env

    @property
    def desk(self) -> Service:
        return next(s for s in self.supervisor.services if s.name == "desk")

    def kill_desk(self) -> None:
        assert self.desk.process is not None
        os.killpg(self.desk.process.pid, signal.SIGKILL)
        self.desk.process.wait()

    def start_desk(self) -> None:
        self.desk.start(self.settings.data_dir / "logs")
        deadline = time.monotonic() + 60
        while not self.desk.health():
            assert time.monotonic() < deadline, self.desk.tail()
            time.sleep(0.3)


@pytest.fixture(scope="module")
def stack(assistant: RunningAssistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("desk-restart")
    shutil.copytree(assistant.data_dir / "knowledge", data_dir / "knowledge")
    ports = {"MOT_RASA_PORT": free_port(), "MOT_ACTIONS_PORT": free_port(),
             "MOT_DESK_PORT": free_port()}
    env = {"MOT_DATA_DIR": str(data_dir), **{k: str(v) for k, v in ports.items()}}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the services inherit it (bot.build.rasa_env)
    try:
        settings = load_settings()
        model = train(settings, lambda _: None)
        endpoints, credentials = write_rasa_files(settings)
        supervisor = Supervisor(settings, services(settings, model, endpoints, credentials),
                                lambda _: None)
        supervisor.start()
        yield Stack(settings, supervisor, {**os.environ})
        supervisor.stop()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _frames_until(ws: aiohttp.ClientWebSocketResponse, done, timeout: float = 30):  # type: ignore[no-untyped-def]
    frames: list[dict] = []
    deadline = time.monotonic() + timeout
    while not done(frames):
        frames.append(await asyncio.wait_for(ws.receive_json(), deadline - time.monotonic()))
    return frames


def _customer_texts(frames: list[dict]) -> list[str]:
    return [f["message"]["text"] for f in frames
            if f.get("type") == "message" and f["message"]["speaker"] == "customer"]


def test_desk_restart_loses_and_duplicates_nothing(stack: Stack) -> None:
    name, password = f"agent-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    add_agent(stack.env, name, password)
    customer = Customer(stack.settings.rasa_url)
    try:
        customer.say("let me speak to a real person")
        customer.wait_for("passed your conversation to a person", timeout=60)
        # nobody has claimed it yet: the contact detail left is acknowledged (desk.contact)
        customer.say("you can reach me at ann.lee@example.com")
        customer.wait_for("we have your e-mail address (a•••@example.com)", timeout=60)
        _run_in_thread(_scenario(stack, customer, name, password))
    finally:
        customer.close()


def _run_in_thread(coroutine) -> None:  # type: ignore[no-untyped-def]
    """asyncio.run in a thread: Playwright's sync API keeps a loop running on this one."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(300)
    assert not thread.is_alive(), "the restart scenario hung"
    if errors:
        raise errors[0]


async def _scenario(stack: Stack, customer: Customer, name: str, password: str) -> None:
    base = stack.settings.desk_url
    # unsafe=True: aiohttp keeps no cookies for IP-address hosts (127.0.0.1) otherwise.
    async with aiohttp.ClientSession(base_url=base,
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent:
        csrf = await sign_in(agent, name, password)
        queue = await (await agent.get("/api/desk/queue")).json()
        handoff = next(h["id"] for h in queue["queued"]
                       if h["conversation_id"] == customer.session_id)
        assert (await agent.post(f"/api/desk/handoffs/{handoff}/claim",
                                 headers={"X-CSRF-Token": csrf})).status == 200
        customer.wait_for(f"this is {name}")
        ws = await agent.ws_connect(f"/desk/ws?handoff={handoff}")
        customer.say("before the restart")
        frames = await _frames_until(ws, lambda f: "before the restart" in _customer_texts(f))
        last_seq = max(f["message"]["seq"] for f in frames if f.get("type") == "message")
        await ws.send_json({"type": "send", "client_id": "line-one-0001", "text": "agent one"})
        await _frames_until(ws, lambda f: any(x.get("type") == "ack" for x in f))
        customer.wait_for("agent one")

        stack.kill_desk()  # a crash, not a clean stop
        customer.say("while the desk is down 1")
        customer.say("while the desk is down 2")
        await asyncio.sleep(1)
        stack.start_desk()

        # The agent's browser reconnects with the last line it saw, and re-sends a line
        # it had sent just before the crash and never saw acknowledged (twice, even).
        ws = await _reconnect(agent, handoff, last_seq)
        for _ in range(2):
            await ws.send_json({"type": "send", "client_id": "line-two-0002",
                                "text": "agent two"})
        frames = await _frames_until(ws, lambda f: len(_customer_texts(f)) >= 2 and sum(
            x.get("type") == "ack" for x in f) >= 2, timeout=60)
        assert customer.wait_for("agent two") == ["agent two"]
        await asyncio.sleep(2)  # room for any duplicate to show up
        lines = await (await agent.get(f"/api/desk/handoffs/{handoff}/messages")).json()
        texts = [(m["speaker"], m["text"]) for m in lines]
        customer_lines = [t for s, t in texts if s == "customer"]
        assert customer_lines == ["you can reach me at ann.lee@example.com",
                                  "before the restart", "while the desk is down 1",
                                  "while the desk is down 2"]
        assert [s for s, _ in texts].count("auto") == 1
        assert [t for s, t in texts if s == "agent"][1:] == ["agent one", "agent two"]
        assert customer.replies.empty(), "the customer got a line twice"
        await ws.close()


async def _reconnect(agent: aiohttp.ClientSession, handoff: str,
                     after: int) -> aiohttp.ClientWebSocketResponse:
    deadline = time.monotonic() + 30
    while True:
        try:
            return await agent.ws_connect(f"/desk/ws?handoff={handoff}&after={after}")
        except aiohttp.ClientError:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.5)
