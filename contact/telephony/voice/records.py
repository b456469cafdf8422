"""Asterisk's own record of the calls its dialplan announced: the calls no node saw.

Next to the AMI UserEvent ContactCall the dialplan raises CELGenUserEvent(ContactCall), which
cel_custom writes to a local file (asterisk-config/cel.conf, cel_custom.conf): one line per
call, `"ContactCall","<time>","<uniqueid>","<linkedid>","<kind> <number>"`, whether or not a
contact node listened. A call that came and went while no node held the AMI link (the leader
killed, the standby not yet in) is in that file and nowhere else; the node that drives reads
the lines written since its watermark at every resync (resync.py) and makes each call the
database does not know an abandoned contact with its callback task.

The file is read as hostile input: every line is parsed totally (CSV quoting, the uniqueid's
shape, a known kind, a dialable number or none); a malformed line is skipped and counted,
never an error. The watermark (the file's inode and the offset read up to) is kept in a small
file of the node's data directory, written atomically; without one, a node starts at the end
of the file (calls before it started are not its to recover). A file replaced (rotated) or
shorter than the watermark is read from its start.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from contact.domain.model import ChannelKind, Language
from contact.telephony import parse

log = logging.getLogger(__name__)

EVENT = "ContactCall"
LANGUAGE_EVENT = "ContactLanguage"  # the menu's choice: `"ContactLanguage",…,"<language>"`
# the most read at one resync: a file that grew by more is read over several
MAX_READ_BYTES = 1024 * 1024  # ~6,000 calls, ~0.13 s of CPU (bench/bench_call_records.py)
KINDS = {
    "voice": ChannelKind.VOICE,
    "kiosk": ChannelKind.KIOSK,
    "video": ChannelKind.VIDEO,
}
_TIME = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,9})?$")


@dataclass(frozen=True, slots=True)
class CallRecord:
    uniqueid: str
    at: float  # the dialplan announced it (Asterisk's clock, seconds since the epoch)
    kind: ChannelKind
    number: str | None  # dialable, or None
    start: int = 0  # where its line starts in the file (a watermark that keeps it)
    language: Language | None = None  # chosen in the menu, if its line was read with it


@dataclass(frozen=True, slots=True)
class LanguageRecord:
    uniqueid: str
    language: Language


def parse_line(line: str) -> CallRecord | LanguageRecord | None:
    """One line of the file; None if it is not a well-formed record of ours."""
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return None
    if len(rows) != 1 or len(rows[0]) != 5:
        return None
    event, at, uid, _linked, raw_extra = rows[0]
    uniqueid = parse.uniqueid(uid)
    if event not in (EVENT, LANGUAGE_EVENT) or uniqueid is None or not _TIME.match(at):
        return None
    extra = _extra(raw_extra)
    if extra is None:
        return None
    if event == LANGUAGE_EVENT:
        try:
            return LanguageRecord(uniqueid=uniqueid, language=Language(extra))
        except ValueError:
            return None
    kind_name, _, number = extra.partition(" ")
    kind = KINDS.get(kind_name)
    if kind is None:
        return None
    return CallRecord(uniqueid=uniqueid, at=float(at), kind=kind, number=parse.dialable(number))


def _extra(raw: str) -> str | None:
    """CEL's eventextra of a user event: a JSON object `{"extra": "…"}` (or the bare text)."""
    if not raw.startswith("{"):
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    extra = value.get("extra") if isinstance(value, dict) else None
    return extra if isinstance(extra, str) else None


def parse_chunk(data: bytes) -> tuple[list[CallRecord], int, int]:
    """The complete lines of `data`: (their calls, with the language chosen if its line is
    among them; how many lines were malformed; how many bytes they take). A last line without
    its newline is left for the next read."""
    end = data.rfind(b"\n") + 1
    records: list[CallRecord] = []
    languages: dict[str, Language] = {}
    malformed = 0
    start = 0
    for raw in data[:end].split(b"\n"):
        at, start = start, start + len(raw) + 1
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            malformed += 1
            continue
        record = parse_line(line)
        if record is None:
            malformed += 1
        elif isinstance(record, LanguageRecord):
            languages[record.uniqueid] = record.language
        else:
            records.append(dataclasses.replace(record, start=at))
    records = [
        dataclasses.replace(r, language=languages[r.uniqueid]) if r.uniqueid in languages else r
        for r in records
    ]
    return records, malformed, end


class CallRecords:
    """The file Asterisk writes and this node's watermark in it."""

    def __init__(self, path: Path, watermark: Path) -> None:
        self.path = path
        self._watermark = watermark
        self.malformed = 0  # lines skipped since start (a metric)

    def _stat(self) -> os.stat_result | None:
        try:
            return self.path.stat()
        except OSError:
            return None

    def _load(self) -> tuple[int, int] | None:
        try:
            mark = json.loads(self._watermark.read_text())
            return int(mark["inode"]), int(mark["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _store(self, inode: int, offset: int) -> None:
        self._watermark.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._watermark.with_suffix(".tmp")
        tmp.write_text(json.dumps({"inode": inode, "offset": offset}))
        os.replace(tmp, self._watermark)

    def begin(self) -> None:
        """A node's first start: its watermark is the file's end (blocking; run in a thread)."""
        if not self.path.parent.is_dir():
            log.warning(
                "call records: no directory %s: calls no node saw cannot be recovered "
                "(CONTACT_ASTERISK_CALL_RECORDS, asterisk-config/README.md)",
                self.path.parent,
            )
        if self._load() is not None:
            return
        stat = self._stat()
        self._store(stat.st_ino if stat else 0, stat.st_size if stat else 0)

    def read(self) -> tuple[list[CallRecord], tuple[int, int] | None]:
        """The records written since the watermark and the watermark after them, to `commit`
        once they are handled (blocking; run in a thread)."""
        stat = self._stat()
        if stat is None:
            return [], None
        mark = self._load()
        offset = 0
        if mark is not None and mark[0] == stat.st_ino and mark[1] <= stat.st_size:
            offset = mark[1]
        elif mark is not None and mark[0] == 0 and mark[1] == 0:
            offset = 0  # the file did not exist at the start: all of it is new
        if offset >= stat.st_size:
            return [], None
        with self.path.open("rb") as f:
            f.seek(offset)
            data = f.read(MAX_READ_BYTES)
        records, malformed, used = parse_chunk(data)
        if used == 0 and len(data) >= MAX_READ_BYTES:
            used = len(data)  # one line longer than a read: not a record, skipped
            malformed += 1
        if malformed:
            self.malformed += malformed
            log.warning("call records: %d malformed lines skipped", malformed)
        records = [dataclasses.replace(r, start=offset + r.start) for r in records]
        return records, (stat.st_ino, offset + used)

    def commit(self, mark: tuple[int, int]) -> None:
        self._store(*mark)
