"""Sign-in rate limits: repeated failures for one account or from one address slow, then stop.

bcrypt makes each guess cost ~0.2 s, which still allows thousands of guesses an hour against
an agent's account. So every sign-in attempt is counted in a sliding window (default 15
minutes) twice: under the account name and under the client address. Past ``slow_after``
failures the account's next attempts are answered late; at ``max_failures`` (per account)
or ``max_failures_per_address`` (per address) further attempts are refused with HTTP 429,
without checking the password, until enough failures have left the window.

Under the account, the attempt is recorded *before* the password is checked, so a burst
of parallel guesses cannot all slip under the limit; a refused attempt is taken out again,
so hammering a locked account does not extend its lock; a success clears the account's
record (the person got in). Under the address only *failures* are recorded, once known:
fifty agents behind one office NAT signing in at 8:00 must not lock each other out, and a
success does not clear the address (one valid account must not reset the counter of an
address that is guessing others). The records live in Redis when ``MOT_REDIS_URL`` is set
(every desk replica sees the same counts) and in memory otherwise.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from bot.settings import ConfigError, int_setting

__all__ = ["SIGN_IN_GUARD", "Attempt", "MemoryAttemptLog", "RedisAttemptLog", "SignInGuard",
           "SignInLimits", "SignInRefused", "load_sign_in_limits"]


@dataclass(frozen=True)
class SignInLimits:
    """How many failed sign-ins are tolerated, and for how long they are remembered."""

    max_failures: int = 5                # per account name, within the window
    max_failures_per_address: int = 20   # per client address (an office NAT is many people)
    window_seconds: int = 900
    slow_after: int = 3                  # account failures answered at full speed
    max_delay_seconds: float = 4.0

    def delay(self, earlier_failures: int) -> float:
        """Seconds to wait before checking a password after ``earlier_failures``: 1, 2, 4..."""
        if earlier_failures < self.slow_after:
            return 0.0
        return float(min(2.0 ** (earlier_failures - self.slow_after), self.max_delay_seconds))


def load_sign_in_limits(env: Mapping[str, str] | None = None) -> SignInLimits:
    """Reads ``MOT_SIGNIN_*`` (see the README's desk configuration); unset ones default.

    Raises:
        ConfigError: a value is not a whole number in its range (names the variable).
    """
    env = os.environ if env is None else env
    default = SignInLimits()
    limits = SignInLimits(
        max_failures=int_setting(env, "MOT_SIGNIN_MAX_FAILURES", default.max_failures, 1, 1000),
        max_failures_per_address=int_setting(env, "MOT_SIGNIN_MAX_FAILURES_PER_ADDRESS",
                                      default.max_failures_per_address, 1, 100_000),
        window_seconds=int_setting(env, "MOT_SIGNIN_WINDOW_SECONDS", default.window_seconds, 1,
                            7 * 86400),
        slow_after=int_setting(env, "MOT_SIGNIN_SLOW_AFTER", default.slow_after, 0, 1000),
    )
    if limits.slow_after > limits.max_failures:
        raise ConfigError("MOT_SIGNIN_SLOW_AFTER", str(limits.slow_after),
                          f"must not exceed MOT_SIGNIN_MAX_FAILURES ({limits.max_failures})")
    return limits


class AttemptLog(Protocol):
    """Timestamps of recent attempts per key; atomic per call, shared by replicas or not."""

    async def record(self, key: str, attempt: str, now: float, window: float) -> list[float]:
        """Adds ``attempt`` at ``now``, drops entries older than ``window`` seconds, and
        returns the times of the ones left (this one included), oldest first."""
        ...

    async def recent(self, key: str, now: float, window: float) -> list[float]:
        """The times of ``key``'s attempts within ``window`` seconds of ``now``, oldest first."""
        ...

    async def forget(self, key: str, attempt: str | None = None) -> None:
        """Removes one attempt, or every attempt of ``key`` when ``attempt`` is None."""
        ...


class MemoryAttemptLog:
    """One process's log (the embedded default); bounded so that guessing with a million
    made-up names cannot exhaust memory: the least recently used keys go first."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._keys: OrderedDict[str, dict[str, float]] = OrderedDict()

    async def record(self, key: str, attempt: str, now: float, window: float) -> list[float]:
        entries = {a: t for a, t in self._keys.pop(key, {}).items() if t > now - window}
        entries[attempt] = now
        self._keys[key] = entries
        while len(self._keys) > self.MAX_KEYS:
            self._keys.popitem(last=False)
        return sorted(entries.values())

    async def recent(self, key: str, now: float, window: float) -> list[float]:
        return sorted(t for t in self._keys.get(key, {}).values() if t > now - window)

    async def forget(self, key: str, attempt: str | None = None) -> None:
        if attempt is None:
            self._keys.pop(key, None)
        else:
            self._keys.get(key, {}).pop(attempt, None)


class RedisAttemptLog:
    """A sorted set per key in Redis (score: time), so every desk replica counts alike.

    ``prefix`` separates deployments sharing one Redis; keys expire with the window.
    """

    def __init__(self, redis: Any, prefix: str) -> None:
        self._redis, self._prefix = redis, prefix

    async def record(self, key: str, attempt: str, now: float, window: float) -> list[float]:
        name = f"{self._prefix}:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(name, "-inf", now - window)
            pipe.zadd(name, {attempt: now})
            pipe.zrange(name, 0, -1, withscores=True)
            pipe.expire(name, math.ceil(window) + 1)
            _, _, entries, _ = await pipe.execute()
        return sorted(float(score) for _, score in entries)

    async def recent(self, key: str, now: float, window: float) -> list[float]:
        entries = await self._redis.zrangebyscore(f"{self._prefix}:{key}",
                                                  f"({now - window}", "+inf", withscores=True)
        return sorted(float(score) for _, score in entries)

    async def forget(self, key: str, attempt: str | None = None) -> None:
        name = f"{self._prefix}:{key}"
        if attempt is None:
            await self._redis.delete(name)
        else:
            await self._redis.zrem(name, attempt)


class SignInRefused(Exception):
    """Too many failures: no password is checked until ``retry_at`` (epoch seconds)."""

    def __init__(self, retry_at: float, now: float) -> None:
        self.retry_at = retry_at
        self.retry_after_seconds = max(1, math.ceil(retry_at - now))
        minutes = math.ceil(self.retry_after_seconds / 60)
        when = time.strftime("%H:%M UTC", time.gmtime(retry_at))
        wait = (f"{minutes} minute{'s' if minutes > 1 else ''}"
                if self.retry_after_seconds > 60 else f"{self.retry_after_seconds} seconds")
        super().__init__(f"Too many failed sign-ins. Try again in {wait} (at {when}).")


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt let through; ``delay_seconds`` is how long to make it wait."""

    id: str
    account_key: str
    address_key: str
    delay_seconds: float


class SignInGuard:
    """Applies :class:`SignInLimits` over an :class:`AttemptLog`."""

    def __init__(self, log: AttemptLog, limits: SignInLimits,
                 clock: Callable[[], float] = time.time) -> None:
        self.limits, self._log, self._clock = limits, log, clock

    async def begin(self, account: str, address: str) -> Attempt:
        """Records an attempt for ``account`` from ``address``.

        Raises:
            SignInRefused: either key is at its limit; nothing stays recorded.
        """
        attempt = Attempt(uuid.uuid4().hex, _key("account", account.strip()),
                          _key("address", address), 0.0)
        now, window = self._clock(), float(self.limits.window_seconds)
        by_account = await self._log.record(attempt.account_key, attempt.id, now, window)
        by_address = await self._log.recent(attempt.address_key, now, window) + [now]
        retry_at = max(_free_at(by_account, self.limits.max_failures, window),
                       _free_at(by_address, self.limits.max_failures_per_address, window))
        if retry_at > now:
            await self._log.forget(attempt.account_key, attempt.id)
            raise SignInRefused(retry_at, now)
        return Attempt(attempt.id, attempt.account_key, attempt.address_key,
                       self.limits.delay(len(by_account) - 1))

    async def failed(self, attempt: Attempt) -> None:
        """The password was wrong: the address counts it too (the account already does)."""
        await self._log.record(attempt.address_key, attempt.id, self._clock(),
                               float(self.limits.window_seconds))

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the account starts afresh (the address never counted it)."""
        await self._log.forget(attempt.account_key)


def _free_at(times: list[float], limit: int, window: float) -> float:
    """When the newest of ``times`` would be within ``limit`` (0.0 if it is already).

    ``times`` holds the earlier failures plus the new attempt (last); the attempt may go
    ahead once fewer than ``limit`` earlier failures remain in the window.
    """
    earlier = len(times) - 1
    if earlier < limit:
        return 0.0
    return times[earlier - limit] + window


def _key(kind: str, value: str) -> str:
    """A fixed-length key: names and addresses are the caller's text, never a key's."""
    return f"{kind}:{hashlib.sha256(value.encode('utf-8')).hexdigest()[:32]}"


SIGN_IN_GUARD = web.AppKey("sign_in_guard", SignInGuard)
