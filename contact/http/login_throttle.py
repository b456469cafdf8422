"""Login throttling as OWASP advises: slow the guesser, never lock the account's owner out.

Only failed logins count (sliding window). The guesser is throttled where it guesses from:
per client address and user name, and per address over all names (spraying), each with an
exponentially growing wait after its free failures, answered 429 with Retry-After. A user name
under a distributed attack is only slowed (each attempt answered later), never refused, so its
owner logging in from another address gets in with the right password. The counters live in
this process: with several nodes behind a balancer a guesser gets each node's allowance.

Device cookies (OWASP "slow down online guessing attacks with device cookies"): a browser that
logged in as a user gets a cookie signed with that user's stored password hash (a server
secret, the same on every node, void once the password changes). Its attempts for that user
skip the waits and the slow-down, so an owner sharing an address with a guesser (an operator
room) still gets in; a device cookie stops helping after `login_free_failures` failures of
its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from collections import deque
from collections.abc import Callable

from contact.config import AuthSettings
from contact.errors import TooManyRequests

MAX_KEYS = 100_000  # beyond this, keys with nothing in the window are forgotten


class LoginThrottle:
    def __init__(self, settings: AuthSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._s = settings
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def check(self, username: str, address: str, device: str | None = None) -> float:
        """Before a password is verified: TooManyRequests (with `retry_after_s`) while this
        address must wait, else the delay (s) to answer after, for a name under attack.
        `device`: the key of a valid device cookie for this user name."""
        now = self._clock()
        if device is not None and len(self._recent(f"device:{device}", now)) < (
            self._s.login_free_failures
        ):
            return 0.0
        wait = max(
            self._wait(self._pair(username, address), self._s.login_free_failures, now),
            self._wait(f"addr:{address}", self._s.login_free_failures_per_address, now),
        )
        if wait > 0:
            retry = math.ceil(wait)
            raise TooManyRequests(
                f"too many failed logins from this address; try again in {retry} s",
                error_id="login_throttled",
                details={"retry_after_s": retry},
            )
        user = self._recent(f"user:{username.lower()}", now)
        return self._s.login_user_delay_s if len(user) >= self._s.login_user_slowdown_after else 0

    def failed(self, username: str, address: str, device: str | None = None) -> None:
        now = self._clock()
        if len(self._failures) > MAX_KEYS:
            self._forget_old(now)
        keys = [self._pair(username, address), f"addr:{address}", f"user:{username.lower()}"]
        if device is not None:
            keys.append(f"device:{device}")
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, address: str) -> None:
        """The owner got in from here: their own typos from this address are forgotten (the
        address and user name counters stay: a guesser with one account must not reset them)."""
        self._failures.pop(self._pair(username, address), None)

    @staticmethod
    def _pair(username: str, address: str) -> str:
        return f"pair:{address}:{username.lower()}"

    def _recent(self, key: str, now: float) -> deque[float]:
        window = self._failures.get(key)
        if window is None:
            return deque()
        while window and now - window[0] > self._s.login_window_s:
            window.popleft()
        return window

    def _wait(self, key: str, free: int, now: float) -> float:
        """1 s after the first failure beyond `free`, then 2, 4 … s, counted from the last."""
        window = self._recent(key, now)
        over = len(window) - free
        if over < 0:
            return 0.0
        delay = min(float(self._s.login_max_delay_s), 2.0**over)
        return max(0.0, window[-1] + delay - now)

    def _forget_old(self, now: float) -> None:
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]


def device_cookie(username: str, password_hash: str) -> str:
    """A device cookie for this user name: `<name, base64>.<nonce>.<mac>`."""
    name = base64.urlsafe_b64encode(username.lower().encode()).decode().rstrip("=")
    nonce = secrets.token_urlsafe(12)
    return f"{name}.{nonce}.{_mac(name, nonce, password_hash)}"


def device_key(cookie: str | None, username: str, password_hash: str) -> str | None:
    """The device's key (for its own failure count) if `cookie` is a valid device cookie for
    this user name, else None."""
    if not cookie or len(cookie) > 400 or cookie.count(".") != 2:
        return None
    name, nonce, mac = cookie.split(".")
    expected_name = base64.urlsafe_b64encode(username.lower().encode()).decode().rstrip("=")
    if not hmac.compare_digest(name, expected_name):
        return None
    if not hmac.compare_digest(mac, _mac(name, nonce, password_hash)):
        return None
    return mac[:32]


def _mac(name: str, nonce: str, password_hash: str) -> str:
    digest = hmac.new(password_hash.encode(), f"device:{name}.{nonce}".encode(), hashlib.sha256)
    return digest.hexdigest()
