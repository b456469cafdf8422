"""Login throttling (growing waits per guesser, a user name only slowed) and the session
settings the code can honour, on a fake clock."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contact.config import AuthSettings, Settings, explain
from contact.errors import TooManyRequests
from contact.http.login_throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def retry_after(throttle: LoginThrottle, user: str, address: str) -> int:
    with pytest.raises(TooManyRequests) as refused:
        throttle.check(user, address)
    return int(refused.value.details["retry_after_s"])


def test_waits_grow_for_the_guesser_and_the_owner_elsewhere_is_never_refused() -> None:
    clock = Clock()
    settings = AuthSettings(login_user_slowdown_after=8, login_user_delay_s=1.5)
    throttle = LoginThrottle(settings, clock)
    for _ in range(5):
        assert throttle.check("aigerim", "10.0.0.9") == 0
        throttle.failed("aigerim", "10.0.0.9")
    waits = []
    for _ in range(4):
        waits.append(retry_after(throttle, "Aigerim", "10.0.0.9"))
        clock.now += waits[-1]
        throttle.check("aigerim", "10.0.0.9")
        throttle.failed("aigerim", "10.0.0.9")
    assert waits == [1, 2, 4, 8]
    assert throttle.check("aigerim", "10.0.0.2") == 1.5  # 9 failures: slowed, not refused
    assert throttle.check("dana", "10.0.0.9") == 0  # another name from the guesser's room
    clock.now += settings.login_window_s + 1
    assert throttle.check("aigerim", "10.0.0.9") == 0  # the window forgets


def test_one_address_spraying_many_names_waits_too() -> None:
    clock = Clock()
    throttle = LoginThrottle(AuthSettings(login_free_failures_per_address=10), clock)
    for n in range(10):
        throttle.failed(f"user{n}", "10.0.0.9")
    assert retry_after(throttle, "someone", "10.0.0.9") == 1
    assert throttle.check("someone", "10.0.0.8") == 0


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"session_idle_s": 5}, "CONTACT_AUTH_SESSION_IDLE_S"),
        ({"session_idle_s": 600, "session_absolute_s": 300}, "CONTACT_AUTH_SESSION_ABSOLUTE_S"),
        ({"login_free_failures": 9, "login_free_failures_per_address": 3}, "PER_ADDRESS"),
    ],
)
def test_impossible_session_settings_are_refused_by_name(
    values: dict[str, int], named: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        AuthSettings(**values)  # type: ignore[arg-type]
    assert named in explain(refused.value)


def test_activity_granularity_follows_the_idle_timeout() -> None:
    short = AuthSettings(session_idle_s=20)
    assert short.touch_every_s == 5 and short.ws_heartbeat_s < 20 / 2
    default = Settings().auth
    assert default.touch_every_s == 30 and default.ws_heartbeat_s == 20


def test_contact_refuses_to_start_with_settings_it_cannot_honour() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("contact"))
    env = {
        **os.environ,
        "CONTACT_AUTH_SESSION_IDLE_S": "20",
        "CONTACT_AUTH_SESSION_ABSOLUTE_S": "10",
    }
    done = subprocess.run([exe, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "CONTACT_AUTH_SESSION_ABSOLUTE_S must not be shorter" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_client_behind_a_trusted_proxy() -> None:
    from contact.http.client_address import client_of, parse_networks

    proxies = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert client_of("10.1.1.1", "203.0.113.5, 10.2.2.2", proxies) == "203.0.113.5"
    assert client_of("10.1.1.1", "198.51.100.1, 203.0.113.5", proxies) == "203.0.113.5"
    assert client_of("192.0.2.9", "203.0.113.5", proxies) == "192.0.2.9"  # untrusted peer
    assert client_of("10.1.1.1", "junk, 203.0.113.5", proxies) == "203.0.113.5"
    assert client_of("10.1.1.1", "203.0.113.5, junk", proxies) == "10.1.1.1"
    assert client_of("10.1.1.1", "10.3.3.3", proxies) == "10.1.1.1"
    assert client_of("10.1.1.1", None, ()) == "10.1.1.1"
    with pytest.raises(ValidationError, match="CONTACT_HTTP_TRUSTED_PROXIES"):
        from contact.config import HttpSettings

        HttpSettings(trusted_proxies="10.0.0.0/8, nonsense")
