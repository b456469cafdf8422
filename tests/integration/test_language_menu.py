"""The language menu every 102 caller hears first, on the real Asterisk of asterisk-config/ with
real sipp callers: its two prompts are short (the files `contact asterisk up` links, generated
or recorded), a digit cuts them off, and no digit gives the default language once the menu
times out. Asterisk or sipp missing makes these tests FAIL, never skip."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest

from contact.telephony.runner import DEFAULT_CONFIG_DIR
from tests.integration.test_asterisk_boot import Booted, Sipp, _is_user_event
from tests.integration.test_asterisk_boot import ami as ami
from tests.integration.test_asterisk_boot import asterisk as asterisk
from tests.integration.test_asterisk_boot import sipp as sipp
from tests.integration.test_voice_harness import Ami

pytestmark = pytest.mark.timeout(300)

PROMPTS = ("contact/menu-ru", "contact/menu-kk")
MENU_MAX_S = 4.0  # both prompts together: a caller in an emergency must not wait
# raw formats Asterisk plays, in bytes per second of audio
_RAW_RATES = {".sln": 16000, ".sln16": 32000, ".ulaw": 8000, ".alaw": 8000, ".g722": 8000}


def _seconds(path: Path) -> float:
    if path.suffix == ".wav":
        with wave.open(str(path)) as w:
            return float(w.getnframes() / w.getframerate())
    if path.suffix == ".gsm":
        return path.stat().st_size / 33 * 0.02
    if path.suffix in _RAW_RATES:
        return path.stat().st_size / _RAW_RATES[path.suffix]
    raise AssertionError(f"cannot measure {path}: record the menu as .wav")


def _menu_timeout_s() -> float:
    dialplan = (DEFAULT_CONFIG_DIR / "extensions.conf").read_text()
    found = re.search(r"^CONTACT_MENU_TIMEOUT\s*=\s*([0-9.]+)", dialplan, re.M)
    assert found, "CONTACT_MENU_TIMEOUT in [globals]"
    return float(found.group(1))


def _menu_s(asterisk: Booted) -> float:
    sounds = asterisk.runner.run_dir / "data" / "sounds"
    total = 0.0
    for prompt in PROMPTS:
        (played,) = sorted((sounds / prompt).parent.glob(Path(prompt).name + ".*"))
        seconds = _seconds(played.resolve())
        print(f"\n{prompt}: {seconds:.2f} s ({played.resolve()})")
        total += seconds
    return total


def test_both_menu_prompts_last_at_most_four_seconds(asterisk: Booted) -> None:
    total = _menu_s(asterisk)
    print(f"language menu, both prompts: {total:.2f} s")
    assert 1.0 < total <= MENU_MAX_S


async def test_a_digit_cuts_the_prompts_short(ami: Ami, sipp: Sipp) -> None:
    call = sipp.start(digit="1", hold_ms=500)
    arrived = await ami.wait_for(_is_user_event("ContactCall"), within=10)
    chosen = await ami.wait_for(
        lambda e: _is_user_event("ContactLanguage")(e) and e["Uniqueid"] == arrived["Uniqueid"],
        within=10,
    )
    waited = chosen["_at"] - arrived["_at"]
    print(f"\ndigit 1 at ~0.2 s → ContactLanguage after {waited:.2f} s")
    assert chosen["Language"] == "ru"
    assert waited < 2.0  # the first prompt alone lasts ~1.7 s: Read stopped at the digit
    assert (await call).returncode == 0


async def test_no_digit_keeps_the_default_language_after_the_timeout(
    asterisk: Booted, ami: Ami, sipp: Sipp
) -> None:
    menu_s, timeout_s = _menu_s(asterisk), _menu_timeout_s()
    call = sipp.start(hold_ms=int((menu_s + timeout_s + 2.0) * 1000))
    arrived = await ami.wait_for(_is_user_event("ContactCall"), within=10)
    chosen = await ami.wait_for(
        lambda e: _is_user_event("ContactLanguage")(e) and e["Uniqueid"] == arrived["Uniqueid"],
        within=menu_s + timeout_s + 5,
    )
    waited = chosen["_at"] - arrived["_at"]
    print(f"\nno digit: default language after {waited:.2f} s (prompts {menu_s:.2f} s)")
    assert chosen["Language"] == "ru"  # CONTACT_DEFAULT_LANGUAGE
    assert waited >= timeout_s  # it did wait for a digit
    assert (await call).returncode == 0
