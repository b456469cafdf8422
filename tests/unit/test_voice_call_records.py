"""Asterisk's record of the calls it announced (contact/telephony/voice/records.py) is read
as hostile input: every line parsed totally, malformed ones skipped and counted; the watermark
moves only when committed, starts at the file's end on a node's first start, and a rotated or
truncated file is read from its start."""

from __future__ import annotations

import json
from pathlib import Path

from contact.domain.model import ChannelKind, Language
from contact.telephony.voice.records import CallRecord, CallRecords, parse_chunk, parse_line

GOOD = (
    '"ContactCall","1796654904.557955","1796654904.0","1796654904.0",'
    '"{""extra"":""voice +77015550404""}"'
)


def test_a_record_as_asterisk_writes_it() -> None:
    record = parse_line(GOOD)
    assert isinstance(record, CallRecord)
    assert (record.uniqueid, record.kind, record.number) == (
        "1796654904.0",
        ChannelKind.VOICE,
        "+77015550404",
    )
    kiosk = parse_line('"ContactCall","1.5","1.2","1.2","kiosk "')
    assert isinstance(kiosk, CallRecord) and kiosk.kind is ChannelKind.KIOSK
    assert kiosk.number is None


def test_the_language_chosen_goes_with_its_call() -> None:
    chosen = '"ContactLanguage","1796654910.1","1796654904.0","1796654904.0","{""extra"":""kk""}"'
    unknown = '"ContactLanguage","1796654910.1","1796654904.0","1796654904.0","xx"'
    records, malformed, _used = parse_chunk(f"{GOOD}\n{chosen}\n{unknown}\n".encode())
    assert [r.language for r in records] == [Language.KK] and malformed == 1


def test_hostile_and_malformed_lines_are_skipped_and_counted() -> None:
    bad = [
        '"ContactCall","1.5","1.2","1.2"',  # a field short
        '"ContactCall","1.5","1.2","1.2","voice 1","x"',  # one too many
        '"Other","1.5","1.2","1.2","voice +7701"',  # not ours
        '"ContactCall","now","1.2","1.2","voice +7701"',  # not a time
        '"ContactCall","1.5","1.2;rm -rf","1.2","voice +7701"',  # not a uniqueid
        '"ContactCall","1.5","1.2","1.2","sip +7701"',  # an unknown kind
        '"ContactCall","1.5","1.2","1.2","{""extra"": 5}"',  # extra not text
        '"ContactCall","1.5","1.2","1.2","{not json"',
        '"ContactCall","1.5","1.2","1.2","voice +7701',  # an open quote
    ]
    data = ("\n".join([GOOD, *bad, GOOD]) + "\n").encode() + b"\xff\xfe\n" + b'"Contact'
    records, malformed, used = parse_chunk(data)
    assert len(records) == 2 and malformed == len(bad) + 1
    assert used == len(data) - len(b'"Contact')  # the unfinished last line waits
    assert records[0].start == 0 and data[records[1].start :].startswith(GOOD.encode())
    # a number that is not dialable is no number (no callback target), never raw text
    hostile = parse_line('"ContactCall","1.5","1.2","1.2","voice +7701\r\nEvent: x"')
    assert isinstance(hostile, CallRecord) and hostile.number is None


def test_the_watermark(tmp_path: Path) -> None:
    path = tmp_path / "contact-calls.csv"
    mark = tmp_path / "node" / "call-records.json"
    path.write_text(GOOD + "\n")
    records = CallRecords(path, mark)
    records.begin()  # a node's first start: what was there before is not its to recover
    assert records.read() == ([], None)
    with path.open("a") as f:
        f.write(GOOD.replace("1796654904.0", "1796654905.1") + "\n")
    found, moved = records.read()
    assert [r.uniqueid for r in found] == ["1796654905.1"] and moved is not None
    assert len(records.read()[0]) == 1  # not committed: read again
    records.commit(moved)
    assert records.read() == ([], None)
    records.begin()  # a restart keeps its watermark
    assert records.read() == ([], None)
    path.unlink()  # rotated: the new file is read from its start
    path.write_text(GOOD + "\n")
    assert len(records.read()[0]) == 1
    mark.write_text(json.dumps({"inode": path.stat().st_ino, "offset": 10**9}))
    assert len(records.read()[0]) == 1  # truncated: from the start


def test_a_file_that_does_not_exist_yet_is_read_whole_when_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "contact-calls.csv"
    records = CallRecords(path, tmp_path / "call-records.json")
    records.begin()
    assert records.read() == ([], None)
    path.write_text(GOOD + "\n")
    assert len(records.read()[0]) == 1
