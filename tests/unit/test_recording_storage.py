"""A recording's row when the call ends while the database is away (a cut, a failover): it is
stored once the database answers, never dropped with its file left unlinked."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contact.config import AsteriskSettings
from contact.errors import Unavailable
from contact.ports import Recording
from contact.telephony import recordings
from contact.telephony.recordings import RecordingService


class _Calls:
    """The call repository's recording write, away for the first `away` attempts."""

    def __init__(self, away: int) -> None:
        self.away = away
        self.attempts = 0
        self.stored: list[Recording] = []
        self.done = asyncio.Event()

    async def add_recording(self, recording: Recording) -> None:
        self.attempts += 1
        if self.attempts <= self.away:
            raise Unavailable("the database is unavailable")
        self.stored.append(recording)
        self.done.set()


def _service(tmp_path: Path, calls: _Calls) -> RecordingService:
    settings = AsteriskSettings(recording_dir=tmp_path)
    return RecordingService(settings=settings, calls=calls, audit=None, bus=None)  # type: ignore[arg-type]


def _recording(tmp_path: Path) -> Recording:
    (tmp_path / "2026-12-07").mkdir()
    (tmp_path / "2026-12-07" / "1.1.wav").write_bytes(b"\0" * 1044)
    return Recording(
        id="r1",
        contact_id="c1",
        call_id="k1",
        path="2026-12-07/1.1.wav",
        started_at=datetime(2026, 12, 7, tzinfo=UTC),
    )


@pytest.fixture(autouse=True)
def _fast(monkeypatch: Any) -> None:
    monkeypatch.setattr(recordings, "SETTLE_S", 0.03)


async def test_a_recording_ending_while_the_database_is_away_is_stored_when_it_is_back(
    tmp_path: Path,
) -> None:
    calls = _Calls(away=3)
    await _service(tmp_path, calls).closed(_recording(tmp_path))
    assert calls.attempts == 4
    assert [(r.id, r.size_bytes) for r in calls.stored] == [("r1", 1044)]


async def test_a_database_away_past_the_patience_is_logged_not_waited_for_forever(
    tmp_path: Path, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(recordings, "STORE_PATIENCE_S", 1.0)
    calls = _Calls(away=1_000)
    await _service(tmp_path, calls).closed(_recording(tmp_path))
    assert calls.stored == [] and calls.attempts >= 2
    assert "not linked to its contact" in caplog.text


async def test_a_row_on_its_way_outlives_the_voice_term_that_ended_the_call(
    tmp_path: Path,
) -> None:
    """The node stops driving Asterisk (its lease lost in the same database cut) while the row
    waits: the voice term's tasks are cancelled, the recording's own task stores it."""
    calls = _Calls(away=2)
    service = _service(tmp_path, calls)

    async def voice_term() -> None:
        service.track(_recording(tmp_path))
        await asyncio.sleep(3600)

    term = asyncio.create_task(voice_term())
    await asyncio.sleep(0.05)
    term.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await term
    await asyncio.wait_for(calls.done.wait(), 10)
    assert [r.id for r in calls.stored] == ["r1"]


async def test_a_row_still_waiting_when_the_node_stops_is_logged_by_its_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = _Calls(away=1_000)
    service = _service(tmp_path, calls)
    service.track(_recording(tmp_path))
    await asyncio.sleep(0.2)
    await service.stop()
    assert calls.stored == []
    assert "the node stopped before the database stored it (file 2026-12-07/1.1.wav)" in (
        caplog.text
    )
