"""Desk benchmark: customer message -> agent's screen latency, and desk throughput.

A real desk process (``python -m desk``, SQLite, embedded defaults) on loopback, with
50 signed-in agents holding 500 open conversations (one WebSocket each, as an open
conversation page). A fake Rasa (in this process) takes the agents' replies.

Measured:
* latency: from the POST of a customer event (what Rasa's broker sends once the message
  is saved in the tracker) to the frame arriving on the holding agent's WebSocket,
  p50/p95/max, at a steady offered rate;
* throughput: handoffs queued per second, claims per second, and agent replies per second
  (stored + acknowledged, then delivered to Rasa).

Bounded: fixed counts, and every phase has a deadline. Writes ``bench/results/desk.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.supervisor import free_port
from desk.testing import desk_settings, make_packet, rasa_user_event, sign_in
from desk.users import create_user

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "desk.json"
AGENTS, CONVERSATIONS = 50, 500
MESSAGES, RATE_PER_SECOND = 1000, 50
REPLIES_PER_AGENT = 20
PHASE_DEADLINE_SECONDS = 120.0


class FakeRasa:
    """Takes ``tracker/events`` and ``execute`` calls and counts agent lines."""

    def __init__(self) -> None:
        self.delivered: dict[str, float] = {}

    async def events(self, request: web.Request) -> web.Response:
        for event in await request.json():
            key = (event.get("metadata") or {}).get("mot_desk_key")
            if key:
                self.delivered.setdefault(key, time.perf_counter())
        return web.json_response({"latest_input_channel": "socketio"})

    async def tracker(self, _: web.Request) -> web.Response:
        return web.json_response({"events": []})

    async def execute(self, _: web.Request) -> web.Response:
        return web.json_response({})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/conversations/{id}/tracker/events", self.events)
        app.router.add_get("/conversations/{id}/tracker", self.tracker)
        app.router.add_post("/conversations/{id}/execute", self.execute)
        return app


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the desk exited during start-up"
            try:
                async with session.get(f"{url}/health") as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError("the desk did not start")


class Agent:
    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.session = aiohttp.ClientSession(base_url=url,
                                             cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.sockets: dict[str, aiohttp.ClientWebSocketResponse] = {}
        self.readers: list[asyncio.Task[None]] = []
        self.acked: dict[str, float] = {}

    async def start(self, handoffs: list[str], arrivals: dict[str, float]) -> None:
        self.csrf = await sign_in(self.session, self.name, "bench-password")
        for handoff in handoffs:
            reply = await self.session.post(f"/api/desk/handoffs/{handoff}/claim",
                                            headers={"X-CSRF-Token": self.csrf})
            assert reply.status == 200, await reply.text()
        for handoff in handoffs:
            ws = await self.session.ws_connect(f"/desk/ws?handoff={handoff}")
            self.sockets[handoff] = ws
            self.readers.append(asyncio.create_task(self._read(ws, arrivals)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse,
                    arrivals: dict[str, float]) -> None:
        async for frame in ws:
            data = json.loads(frame.data)
            if data.get("type") == "message" and data["message"]["speaker"] == "customer":
                arrivals.setdefault(data["message"]["text"], time.perf_counter())
            elif data.get("type") == "ack":
                self.acked.setdefault(data["client_id"], time.perf_counter())

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for ws in self.sockets.values():
            await ws.close()
        await self.session.close()


async def _queue_handoffs(url: str, token: str) -> tuple[list[tuple[str, str]], float]:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    async with aiohttp.ClientSession(base_url=url) as session:
        async def one(_: int) -> tuple[str, str]:
            packet = make_packet(skill="general", moment="request_human")
            async with session.post("/api/handoffs", json=packet.to_json(),
                                    headers=headers) as reply:
                return (await reply.json())["id"], packet.conversation_id
        created = []
        for start in range(0, CONVERSATIONS, 50):
            created += await asyncio.gather(*(one(n) for n in range(start, start + 50)))
    return created, time.perf_counter() - started


async def _customer_messages(url: str, token: str, conversations: list[str],
                             arrivals: dict[str, float]) -> dict[str, Any]:
    """Offers MESSAGES customer events at RATE_PER_SECOND; measures broker-POST -> WS."""
    headers = {"Authorization": f"Bearer {token}"}
    sent: dict[str, float] = {}
    async with aiohttp.ClientSession(base_url=url) as session:
        async def post(n: int) -> None:
            text = f"customer message {n} {uuid.uuid4().hex[:6]}"
            event = rasa_user_event(conversations[n % len(conversations)], text, time.time())
            sent[text] = time.perf_counter()
            async with session.post("/api/events", json=[event], headers=headers) as reply:
                assert reply.status == 200
        started, tasks = time.perf_counter(), []
        for n in range(MESSAGES):
            await asyncio.sleep(max(0.0, started + n / RATE_PER_SECOND - time.perf_counter()))
            tasks.append(asyncio.create_task(post(n)))
        await asyncio.gather(*tasks)
    deadline = time.monotonic() + PHASE_DEADLINE_SECONDS
    while len(arrivals) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    latencies = [(arrivals[t] - sent[t]) * 1000 for t in sent if t in arrivals]
    span = max(arrivals[t] for t in sent if t in arrivals) - min(sent.values())
    return {"messages": len(sent), "arrived": len(latencies),
            "delivered_per_second": round(len(latencies) / span, 1),
            "offered_rate_per_second": RATE_PER_SECOND,
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(_percentile(latencies, 0.95), 2),
            "max_ms": round(max(latencies), 2)}


async def _agent_replies(agents: list[Agent], rasa: FakeRasa) -> dict[str, Any]:
    started = time.perf_counter()
    wanted = []
    for agent in agents:
        for n in range(REPLIES_PER_AGENT):
            handoff = list(agent.sockets)[n % len(agent.sockets)]
            client_id = uuid.uuid4().hex
            wanted.append((agent, client_id))
            await agent.sockets[handoff].send_json(
                {"type": "send", "client_id": client_id, "text": f"reply {n}"})
    deadline = time.monotonic() + PHASE_DEADLINE_SECONDS
    while (sum(len(a.acked) for a in agents) < len(wanted)
           or len(rasa.delivered) < len(wanted) + CONVERSATIONS) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    acked_at = max(a.acked[c] for a, c in wanted if c in a.acked)
    delivered_at = max(rasa.delivered.values())
    return {"replies": len(wanted), "acked": sum(len(a.acked) for a in agents),
            "acked_per_second": round(len(wanted) / (acked_at - started), 1),
            "delivered_per_second": round(len(wanted) / (delivered_at - started), 1)}


async def run(data_dir: Path) -> dict[str, Any]:
    rasa_port, desk_port = free_port(), free_port()
    env = {"MOT_DATA_DIR": str(data_dir), "MOT_DESK_PORT": str(desk_port),
           "MOT_RASA_PORT": str(rasa_port), "MOT_ACTIONS_PORT": str(free_port()),
           "MOT_DESK_TOKEN": "bench-service-token"}
    settings = desk_settings(data_dir, **env)
    for n in range(AGENTS):
        await create_user(settings.desk_database_url, f"agent{n}", "bench-password", ("agent",),
                          ("general",), rounds=4)
    rasa = FakeRasa()
    runner = web.AppRunner(rasa.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", rasa_port).start()
    log = (data_dir / "desk.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "desk"], cwd=REPO,
                               env={**os.environ, **env, "PYTHONPATH": str(REPO)},
                               stdout=log, stderr=subprocess.STDOUT)
    agents: list[Agent] = []
    try:
        await _wait_healthy(settings.desk_url, process)
        created, queue_seconds = await _queue_handoffs(settings.desk_url, settings.desk_token)
        agents = [Agent(settings.desk_url, f"agent{n}") for n in range(AGENTS)]
        per_agent = CONVERSATIONS // AGENTS
        arrivals: dict[str, float] = {}
        started = time.perf_counter()
        await asyncio.gather(*(a.start([h for h, _ in created[n * per_agent:(n + 1) * per_agent]],
                                       arrivals) for n, a in enumerate(agents)))
        claim_seconds = time.perf_counter() - started
        latency = await _customer_messages(settings.desk_url, settings.desk_token,
                                           [c for _, c in created], arrivals)
        replies = await _agent_replies(agents, rasa)
    finally:
        for agent in agents:
            await agent.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        await runner.cleanup()
    return {"agents": AGENTS, "open_conversations": CONVERSATIONS,
            "handoffs_queued_per_second": round(CONVERSATIONS / queue_seconds, 1),
            "sign_in_claim_connect_seconds": round(claim_seconds, 2),
            "customer_message_to_agent_screen": latency, "agent_replies": replies,
            "notes": "SQLite desk, embedded mode, one desk process, loopback; latency starts "
                     "at the broker's POST (after Rasa saved the message)."}


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mot-bench-desk-") as folder:
        try:
            result = asyncio.run(run(Path(folder)))
        except Exception:
            kept = Path(tempfile.gettempdir()) / "mot-bench-desk.log"
            kept.write_bytes((Path(folder) / "desk.log").read_bytes())
            print(f"the desk's log: {kept}")
            raise
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
