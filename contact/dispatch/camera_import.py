"""Import cameras from CSV or GeoJSON: good rows are imported, bad rows reported by line.

CSV: a header line is required, delimiter `,`, `;` or tab (taken from the header), UTF-8.
No field may span lines: a row that does is reported, so a stray quote cannot silently swallow
the rows after it.
Columns (case-insensitive, a few aliases accepted, see COLUMN_ALIASES): id, lat, lon, heading,
fov, range, stream_url, and optionally snapshot_url and district. Unknown columns are ignored
and listed in the report; a missing or repeated column is a file-level error and nothing is
imported, because every row would then be wrong in the same way. A URL naming a link-local,
cloud metadata or (unless allowed) loopback address refuses its row (address_guard.py).

GeoJSON: a FeatureCollection of Point features; the same names as properties, the position
from the geometry, the id from the feature's `id` or an `id` property. Line numbers are those
where each feature starts, found by decoding features one at a time.

Both parsers stream (one row / feature at a time) and call `progress(done, total)` now and
then, in bytes for files and characters for text, so a CLI can drive a progress bar.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from contact.address_guard import check_camera_url
from contact.dispatch.cameras import Camera

Progress = Callable[[int, int], None]

PROGRESS_EVERY = 5_000  # rows between progress calls
MAX_REPORTED_ERRORS = 10_000  # errors kept in the report; `error_count` has them all

COLUMNS = (
    "id",
    "lat",
    "lon",
    "heading",
    "fov",
    "range",
    "stream_url",
    "snapshot_url",
    "district",
)
REQUIRED_COLUMNS = frozenset(COLUMNS) - {"snapshot_url", "district"}
COLUMN_ALIASES: Mapping[str, str] = {
    alias: column
    for column, aliases in {
        "id": ("id", "camera_id", "cam_id", "camera"),
        "lat": ("lat", "latitude"),
        "lon": ("lon", "lng", "long", "longitude"),
        "heading": ("heading", "heading_deg", "azimuth", "bearing", "direction"),
        "fov": ("fov", "fov_deg", "field_of_view", "view_angle", "angle"),
        "range": ("range", "range_m", "view_range", "distance", "distance_m"),
        "stream_url": ("stream_url", "stream", "rtsp", "rtsp_url", "video_url"),
        "snapshot_url": ("snapshot_url", "snapshot", "image_url", "jpeg_url"),
        "district": ("district", "district_id", "district_code"),
    }.items()
    for alias in aliases
}
_NUMBERS = ("lat", "lon", "heading", "fov", "range")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # 1-based line where the row or feature starts
    camera_id: str | None
    message: str


@dataclass(slots=True)
class ImportReport:
    """Outcome of one import. `aborted` means a file-level problem: `errors` holds that one
    error and no camera was imported."""

    cameras: list[Camera] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    rows: int = 0  # data rows or features seen
    aborted: bool = False
    ignored_columns: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int, camera_id: str | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(line, camera_id, message))

    def abort(self, line: int, message: str) -> ImportReport:
        return ImportReport(
            errors=[RowError(line, None, message)], error_count=1, rows=self.rows, aborted=True
        )


class _RowProblem(Exception):
    pass


class _Collector:
    """Validates rows into the report; the first line with an id owns it."""

    def __init__(self, allow_loopback: bool = False) -> None:
        self.allow_loopback = allow_loopback
        self.report = ImportReport()
        self._first_line: dict[str, int] = {}

    def add(self, line: int, values: Mapping[str, Any], camera_id: str) -> None:
        report = self.report
        report.rows += 1
        if camera_id:
            first = self._first_line.setdefault(camera_id, line)
            if first != line:
                report.add_error(
                    line, camera_id, f"duplicate id {camera_id!r} (first on line {first})"
                )
                return
        try:
            camera = _camera(camera_id, values)
            for url in (camera.stream_url, camera.snapshot_url):
                if url is not None:  # the server must never be pointed at these (SSRF)
                    check_camera_url(url, self.allow_loopback)
            report.cameras.append(camera)
        except (_RowProblem, ValueError) as exc:
            report.add_error(line, camera_id or None, str(exc))


def _camera(camera_id: str, values: Mapping[str, Any]) -> Camera:
    if not camera_id:
        raise _RowProblem("id is empty")
    problems: list[str] = []
    numbers: dict[str, float] = {}
    for name in _NUMBERS:
        try:
            numbers[name] = _number(values.get(name), name)
        except _RowProblem as exc:
            problems.append(str(exc))
    texts = {name: _text(values.get(name)) for name in ("stream_url", "snapshot_url", "district")}
    if not texts["stream_url"]:
        problems.append("stream_url is empty")
    if "\ufffd" in "".join((camera_id, *texts.values())):
        problems.append("text is not valid UTF-8")
    if problems:
        raise _RowProblem("; ".join(problems))
    return Camera(
        id=camera_id,
        lat=numbers["lat"],
        lon=numbers["lon"],
        heading_deg=numbers["heading"],
        fov_deg=numbers["fov"],
        range_m=numbers["range"],
        stream_url=texts["stream_url"],
        snapshot_url=texts["snapshot_url"] or None,
        district=texts["district"] or None,
    )


def _number(value: Any, name: str) -> float:
    if isinstance(value, str):
        try:
            number = float(value)  # ignores surrounding spaces
        except ValueError:
            text = value.strip()
            problem = f"is not a number: {text!r}" if text else "is empty"
            raise _RowProblem(f"{name} {problem}") from None
    elif value is None:
        raise _RowProblem(f"{name} is missing")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise _RowProblem(f"{name} is not a number: {value!r}")
    if not math.isfinite(number):
        raise _RowProblem(f"{name} must be a finite number: {value!r}")
    return number


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return "" if value is None else str(value).strip()


def _column(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").strip().lower())


# --- CSV ---------------------------------------------------------------------------------


def parse_cameras_csv(lines: Iterable[str], allow_loopback: bool = False) -> ImportReport:
    """Parse CSV text given as lines (e.g. an open text file or `text.splitlines(True)`)."""
    rows = iter(lines)
    header_line = next(rows, None)
    collector = _Collector(allow_loopback)
    if header_line is None or not header_line.strip():
        return collector.report.abort(1, "the file is empty: a header line is required")
    delimiter = max((",", ";", "\t"), key=header_line.count)
    header = next(csv.reader([header_line], delimiter=delimiter))
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for i, raw in enumerate(header):
        column = COLUMN_ALIASES.get(_column(raw))
        if column is None:
            if raw.strip():
                ignored.append(raw.strip())
        elif column in positions:
            return collector.report.abort(
                1, f"column {column!r} appears twice (as {header[positions[column]]!r} and {raw!r})"
            )
        else:
            positions[column] = i
    missing = [c for c in COLUMNS if c in REQUIRED_COLUMNS and c not in positions]
    if missing:
        found = ", ".join(h.strip() for h in header) or "nothing"
        return collector.report.abort(
            1,
            f"missing column(s): {', '.join(missing)}; found: {found}. The first line must be a "
            f"header with: {', '.join(COLUMNS)} (snapshot_url and district are optional)",
        )
    collector.report.ignored_columns = tuple(ignored)
    width = len(header)
    id_at = positions["id"]
    wanted = [(name, i) for name, i in positions.items() if name != "id"]
    reader = csv.reader(rows, delimiter=delimiter)
    report = collector.report
    end_line = 1
    while True:
        line = end_line + 1  # a quoted field may span lines: report where the row starts
        try:
            row = next(reader, None)
        except csv.Error as exc:  # e.g. an unbalanced quote swallowing the file
            report.add_error(line, None, f"CSV syntax error: {exc}; the rest was not read")
            break
        if row is None:
            break
        end_line = 1 + reader.line_num
        camera_id = row[id_at].strip() if id_at < len(row) else ""
        if not camera_id and not any(field.strip() for field in row):
            continue  # blank lines and all-empty rows that spreadsheets leave behind
        if end_line > line:  # no camera field holds a line break: this is a stray quote
            report.rows += 1
            report.add_error(
                line, camera_id or None, f"a quoted field runs over lines {line}-{end_line}"
            )
            continue
        if len(row) != width:
            report.rows += 1
            report.add_error(line, camera_id or None, f"expected {width} fields, found {len(row)}")
            continue
        collector.add(line, {name: row[i] for name, i in wanted}, camera_id)
    return collector.report


def _decoded_lines(stream: BinaryIO, total: int, progress: Progress | None) -> Iterator[str]:
    done = 0
    for n, raw in enumerate(stream, start=1):
        done += len(raw)
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(done, total)
        # bad bytes become U+FFFD, which the row check reports with its line number
        yield raw.decode("utf-8-sig" if n == 1 else "utf-8", errors="replace")
    if progress is not None:
        progress(done, total)


# --- GeoJSON ------------------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")


class _Lines:
    """Line number of a character offset, for offsets visited in increasing order."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._offset = 0
        self._line = 1

    def at(self, offset: int) -> int:
        self._line += self._text.count("\n", self._offset, offset)
        self._offset = offset
        return self._line


def parse_cameras_geojson(
    text: str, progress: Progress | None = None, allow_loopback: bool = False
) -> ImportReport:
    """Parse a GeoJSON FeatureCollection of camera Points."""
    text = text.removeprefix("\ufeff")
    collector = _Collector(allow_loopback)
    decoder = json.JSONDecoder()
    lines = _Lines(text)
    total = len(text)
    kind: object = None
    seen_features = False

    def skip(pos: int) -> int:
        end = _WS.match(text, pos)
        return pos if end is None else end.end()

    def expect(pos: int, chars: str) -> tuple[str, int]:
        pos = skip(pos)
        char = text[pos : pos + 1]
        if not char or char not in chars:
            raise json.JSONDecodeError(f"expected one of {chars!r}", text, pos)
        return char, pos + 1

    try:
        _, pos = expect(0, "{")
        if text[skip(pos) : skip(pos) + 1] == "}":
            pos = skip(pos) + 1
        else:
            while True:
                key, pos = decoder.raw_decode(text, skip(pos))
                _, pos = expect(pos, ":")
                pos = skip(pos)
                if key == "features" and text[pos : pos + 1] == "[":
                    seen_features = True
                    pos = _features(text, pos + 1, decoder, lines, collector, skip, progress)
                else:
                    value, pos = decoder.raw_decode(text, pos)
                    if key == "type":
                        kind = value
                sep, pos = expect(pos, ",}")
                if sep == "}":
                    break
        if skip(pos) != total:
            raise json.JSONDecodeError("extra data after the FeatureCollection", text, skip(pos))
    except json.JSONDecodeError as exc:
        return collector.report.abort(exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})")
    if kind != "FeatureCollection" or not seen_features:
        return collector.report.abort(
            1, f"expected a GeoJSON FeatureCollection with a features array, got type {kind!r}"
        )
    if progress is not None:
        progress(total, total)
    return collector.report


def _features(
    text: str,
    pos: int,
    decoder: json.JSONDecoder,
    lines: _Lines,
    collector: _Collector,
    skip: Callable[[int], int],
    progress: Progress | None,
) -> int:
    """Decode the features array one feature at a time; returns the offset after `]`."""
    pos = skip(pos)
    if text[pos : pos + 1] == "]":
        return pos + 1
    count = 0
    while True:
        start = skip(pos)
        feature, pos = decoder.raw_decode(text, start)
        _feature(lines.at(start), feature, collector)
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(pos, len(text))
        pos = skip(pos)
        char = text[pos : pos + 1]
        if char == "]":
            return pos + 1
        if char != ",":
            raise json.JSONDecodeError("expected ',' or ']' between features", text, pos)
        pos += 1


def _feature(line: int, feature: object, collector: _Collector) -> None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        collector.report.rows += 1
        collector.report.add_error(line, None, "not a GeoJSON Feature")
        return
    raw_props = feature.get("properties")
    props = raw_props if isinstance(raw_props, dict) else {}
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    repeated: list[str] = []
    for key, value in props.items():
        column = COLUMN_ALIASES.get(_column(str(key)))
        if column is None:
            continue
        if column in values:
            repeated.append(f"{column!r} appears twice (as {names[column]!r} and {key!r})")
        values[column], names[column] = value, str(key)
    camera_id = _text(feature.get("id", values.get("id")))
    if repeated:
        collector.report.rows += 1
        collector.report.add_error(line, camera_id or None, "; ".join(repeated))
        return
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        got = geometry.get("type") if isinstance(geometry, dict) else geometry
        collector.report.rows += 1
        collector.report.add_error(
            line, camera_id or None, f"geometry must be a Point, got {got!r}"
        )
        return
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        collector.report.rows += 1
        collector.report.add_error(line, camera_id or None, "Point coordinates must be [lon, lat]")
        return
    values["lon"], values["lat"] = coordinates[0], coordinates[1]
    collector.add(line, values, camera_id)


# --- files --------------------------------------------------------------------------------


def import_cameras(
    path: str | os.PathLike[str], progress: Progress | None = None, allow_loopback: bool = False
) -> ImportReport:
    """Import a camera file: GeoJSON by extension (.geojson, .json) or by a leading `{`,
    otherwise CSV."""
    path = Path(path)
    total = path.stat().st_size
    with path.open("rb") as stream:
        head = stream.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        stream.seek(0)
        if path.suffix.lower() in (".geojson", ".json") or head.startswith(b"{"):
            text = stream.read().decode("utf-8-sig", errors="replace")
            return parse_cameras_geojson(text, progress, allow_loopback)
        return parse_cameras_csv(_decoded_lines(stream, total, progress), allow_loopback)


def write_cameras_csv(cameras: Iterable[Camera], path: str | os.PathLike[str]) -> int:
    """Write cameras in the canonical CSV layout `import_cameras` reads; returns the count."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for c in cameras:
            writer.writerow(
                (
                    c.id,
                    repr(c.lat),
                    repr(c.lon),
                    repr(c.heading_deg),
                    repr(c.fov_deg),
                    repr(c.range_m),
                    c.stream_url,
                    c.snapshot_url or "",
                    c.district or "",
                )
            )
            count += 1
    return count


__all__ = [
    "COLUMNS",
    "COLUMN_ALIASES",
    "MAX_REPORTED_ERRORS",
    "PROGRESS_EVERY",
    "REQUIRED_COLUMNS",
    "ImportReport",
    "Progress",
    "RowError",
    "import_cameras",
    "parse_cameras_csv",
    "parse_cameras_geojson",
    "write_cameras_csv",
]
