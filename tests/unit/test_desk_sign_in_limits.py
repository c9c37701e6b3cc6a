"""Sign-in rate limits: the guard's arithmetic on a fake clock, then the desk's answers."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError
from desk.app import init_app
from desk.rasa_client import RecordingCustomerChannel
from desk.sign_in_limits import (
    MemoryAttemptLog,
    SignInGuard,
    SignInLimits,
    SignInRefused,
    load_sign_in_limits,
)
from desk.testing import csrf_from, desk_settings
from desk.users import create_user
from knowledge.embedder import HashingEmbedder


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _guard(**limits: int) -> tuple[SignInGuard, Clock]:
    clock = Clock()
    return SignInGuard(MemoryAttemptLog(), SignInLimits(**limits), clock), clock


async def _fail(guard: SignInGuard, clock: Clock, times: int, account: str = "ann",
                address: str = "10.0.0.1") -> None:
    for _ in range(times):
        await guard.failed(await guard.begin(account, address))
        clock.now += 1


async def test_fifth_failure_locks_the_account_until_the_first_leaves_the_window() -> None:
    guard, clock = _guard(max_failures=5, window_seconds=900)
    await _fail(guard, clock, 5)
    with pytest.raises(SignInRefused) as refused:
        await guard.begin("ann", "10.0.0.2")
    assert refused.value.retry_after_seconds == 900 - 5
    assert "Try again in 15 minutes" in str(refused.value)
    clock.now += 895
    await guard.begin("ann", "10.0.0.2")  # the first failure is forgotten: one more try


async def test_refused_attempts_do_not_extend_the_lock() -> None:
    guard, clock = _guard(max_failures=2, window_seconds=60)
    await _fail(guard, clock, 2)
    for _ in range(30):
        with pytest.raises(SignInRefused):
            await guard.begin("ann", "10.0.0.1")
        clock.now += 1
    clock.now += 30
    await guard.begin("ann", "10.0.0.1")


async def test_failures_are_slowed_before_they_are_refused() -> None:
    guard, _ = _guard(max_failures=6, slow_after=3)
    delays = [(await guard.begin("ann", f"10.0.0.{n}")).delay_seconds for n in range(6)]
    assert delays == [0, 0, 0, 1, 2, 4]


async def test_success_resets_the_account_but_not_the_address() -> None:
    guard, clock = _guard(max_failures=3, max_failures_per_address=5)
    await _fail(guard, clock, 2)
    await guard.succeeded(await guard.begin("ann", "10.0.0.1"))
    await _fail(guard, clock, 2)  # ann starts afresh: 2 < 3
    await _fail(guard, clock, 1, account="bob")  # the address holds 5 failures now
    with pytest.raises(SignInRefused):
        await guard.begin("cy", "10.0.0.1")
    await guard.begin("cy", "10.0.0.9")  # another address is not affected


async def test_sign_ins_in_flight_from_one_address_are_not_failures() -> None:
    guard, _ = _guard(max_failures_per_address=3)
    attempts = [await guard.begin(f"agent{n}", "10.0.0.1") for n in range(50)]
    for attempt in attempts:
        await guard.succeeded(attempt)


async def test_names_are_counted_as_the_user_store_looks_them_up() -> None:
    guard, clock = _guard(max_failures=2)
    await _fail(guard, clock, 1, account="ann")
    await _fail(guard, clock, 1, account="  ann ")
    with pytest.raises(SignInRefused):
        await guard.begin("ann", "10.0.0.3")


def test_limits_come_from_the_environment_and_bad_values_name_the_variable() -> None:
    assert load_sign_in_limits({}) == SignInLimits()
    limits = load_sign_in_limits({"MOT_SIGNIN_MAX_FAILURES": "8",
                                  "MOT_SIGNIN_WINDOW_SECONDS": "60"})
    assert (limits.max_failures, limits.window_seconds) == (8, 60)
    with pytest.raises(ConfigError, match="MOT_SIGNIN_MAX_FAILURES"):
        load_sign_in_limits({"MOT_SIGNIN_MAX_FAILURES": "many"})
    with pytest.raises(ConfigError, match="MOT_SIGNIN_SLOW_AFTER"):
        load_sign_in_limits({"MOT_SIGNIN_MAX_FAILURES": "2", "MOT_SIGNIN_SLOW_AFTER": "3"})


async def test_memory_log_is_bounded() -> None:
    log = MemoryAttemptLog()
    log.MAX_KEYS = 10
    for n in range(25):
        await log.record(f"k{n}", "a", 1.0, 60.0)
    assert len(log._keys) == 10


@pytest.fixture
async def desk(tmp_path, aiohttp_client):  # type: ignore[no-untyped-def]
    settings = desk_settings(tmp_path)
    for name in ("ann", "bob"):
        await create_user(settings.desk_database_url, name, f"{name}-pw-1", ("agent",),
                          rounds=4)
    app = init_app(settings, channel=RecordingCustomerChannel(),
                   embedder_factory=HashingEmbedder,
                   sign_in_limits=SignInLimits(max_failures=3, slow_after=3))
    return await aiohttp_client(app)


async def _sign_in(desk, name: str, password: str, **headers: str):  # type: ignore[no-untyped-def]
    token = csrf_from(await (await desk.get("/login")).text())
    return await desk.post("/login", data={"name": name, "password": password,
                                           "csrf_token": token},
                           headers=headers, allow_redirects=False)


async def test_the_desk_answers_429_with_when_to_try_again(desk) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert (await _sign_in(desk, "ann", "wrong")).status == 401
    page = await _sign_in(desk, "ann", "ann-pw-1")  # even the right password waits
    assert page.status == 429 and int(page.headers["Retry-After"]) > 800
    assert "Too many failed sign-ins. Try again in 15 minutes" in await page.text()
    api = await _sign_in(desk, "ann", "ann-pw-1", Accept="application/json")
    body = await api.json()
    assert api.status == 429 and body["retry_after_seconds"] > 800
    assert body["error"].startswith("Too many failed sign-ins")
    assert (await _sign_in(desk, "bob", "bob-pw-1")).status == 302  # others still get in


async def test_wrong_password_as_json_and_success_resets(desk) -> None:  # type: ignore[no-untyped-def]
    wrong = await _sign_in(desk, "ann", "wrong", Accept="application/json")
    assert wrong.status == 401 and (await wrong.json())["error"] == "Wrong name or password."
    await _sign_in(desk, "ann", "wrong")
    assert (await _sign_in(desk, "ann", "ann-pw-1")).status == 302
    for _ in range(3):
        assert (await _sign_in(desk, "ann", "wrong")).status == 401
