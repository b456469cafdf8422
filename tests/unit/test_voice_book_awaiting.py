"""The call book keeps the signals of calls that wait for storage: in AMI order, a retry's
leftovers ahead of what came meanwhile, within bounds that never drop a call's announcement
or its end."""

from __future__ import annotations

import pytest

from contact.domain.model import ChannelKind, Language
from contact.telephony import parse
from contact.telephony.voice import book as book_module
from contact.telephony.voice.book import MAX_AWAITING_SIGNALS, CallBook


def announced(uid: str) -> parse.CallAnnounced:
    return parse.CallAnnounced(
        uniqueid=uid,
        channel=f"PJSIP/sipp-{uid}",
        endpoint="sipp",
        number="+77015550101",
        channel_kind=ChannelKind.VOICE,
        location=None,
        civic_address=None,
    )


def test_signals_wait_in_order_and_a_retry_puts_its_leftovers_first() -> None:
    book = CallBook()
    assert book.await_storage("u1", [announced("u1")])
    book.keep_for_storage("u1", parse.LanguageChosen("u1", Language.KK))
    book.keep_for_storage("u2", parse.HungUp("u2", "x", 16))  # not waiting: not kept
    assert book.awaits_storage("u1") and not book.awaits_storage("u2")
    assert "u1" in book.known()  # a resync does not register it behind the retry's back
    taken = book.take_awaiting("u1")
    book.keep_for_storage("u1", parse.HungUp("u1", "x", 16))  # nothing kept: not waiting
    assert book.await_storage("u1", taken[1:])
    book.keep_for_storage("u1", parse.HungUp("u1", "x", 16))
    assert [type(s) for s in book.take_awaiting("u1")] == [parse.LanguageChosen, parse.HungUp]
    assert book.awaiting() == 0


def test_bounds_keep_a_calls_announcement_and_end() -> None:
    book = CallBook()
    book.await_storage("u1", [announced("u1")])
    for _ in range(MAX_AWAITING_SIGNALS + 5):
        book.keep_for_storage("u1", parse.LanguageChosen("u1", Language.RU))
    book.keep_for_storage("u1", parse.HungUp("u1", "x", 16))
    kept = book.take_awaiting("u1")
    assert len(kept) == MAX_AWAITING_SIGNALS
    assert isinstance(kept[0], parse.CallAnnounced) and isinstance(kept[-1], parse.HungUp)
    assert book.awaiting_refused == 7  # 1 + 37 + 1 signals, 32 kept


def test_too_many_waiting_calls_are_refused_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(book_module, "MAX_AWAITING_CALLS", 2)
    book = CallBook()
    assert book.await_storage("u1", [announced("u1")])
    assert book.await_storage("u2", [announced("u2")])
    assert not book.await_storage("u3", [announced("u3")])
    assert book.awaiting() == 2 and book.awaiting_refused == 1
