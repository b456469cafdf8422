"""Reading a registry file (kiosks, alarm sites): CSV or GeoJSON → numbered rows of fields.

All or nothing: the caller imports only when no row has an error, and reports every error
with the line it starts on.

CSV: UTF-8 (a BOM is fine), a header line, delimiter `,`, `;` or tab (taken from the header).
No field may span lines (a stray quote would otherwise swallow the rows after it).
GeoJSON: a FeatureCollection of Point features; the fields are the feature's properties, `lat`
and `lon` come from the geometry, `id` from the feature's `id` unless a property has one.
Column names are case-insensitive and may use the aliases each registry lists.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_FILE_BYTES = 50 * 1024 * 1024
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}\Z")
SECRET = re.compile(r"^[\x21-\x7e]{32,256}\Z")  # visible ASCII, at least 32 characters
_FEATURES = re.compile(r'"features"\s*:\s*\[')


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    fields: Mapping[str, Any]  # canonical column name → value (str from CSV, any from JSON)


@dataclass(frozen=True, slots=True)
class Problem:
    line: int | None  # None: the whole file
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@dataclass(slots=True)
class Outcome:
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


class RowError(ValueError):
    """One field of one row is wrong (the message names it)."""


def is_geojson(data: bytes, filename: str) -> bool:
    if filename.lower().endswith((".geojson", ".json")):
        return True
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def read_rows(
    data: bytes,
    filename: str,
    aliases: Mapping[str, str],
    required: frozenset[str],
) -> Outcome:
    """Rows with canonical column names; `aliases` maps every accepted name (lower case) to
    its canonical column. A problem with the file as a whole leaves `rows` empty."""
    if len(data) > MAX_FILE_BYTES:
        return Outcome(problems=[Problem(None, f"the file is larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return Outcome(problems=[Problem(line, "the file is not UTF-8")])
    if is_geojson(data, filename):
        return _geojson(text, aliases, required)
    return _csv(text, aliases, required)


def _canonical(
    names: list[str], aliases: Mapping[str, str], required: frozenset[str]
) -> tuple[dict[str, str], list[Problem], list[str]]:
    mapping: dict[str, str] = {}
    problems: list[Problem] = []
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for name in names:
        column = aliases.get(name.strip().lower())
        if column is None:
            ignored.append(name)
            continue
        if column in seen:
            problems.append(Problem(1, f"columns {seen[column]!r} and {name!r} both mean {column}"))
            continue
        seen[column] = name
        mapping[name] = column
    missing = sorted(required - set(seen))
    if missing:
        problems.append(Problem(1, f"missing column(s): {', '.join(missing)}"))
    return mapping, problems, ignored


def _csv(text: str, aliases: Mapping[str, str], required: frozenset[str]) -> Outcome:
    header_line = text.split("\n", 1)[0]
    if not header_line.strip():
        return Outcome(problems=[Problem(1, "a header line is required")])
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        return Outcome(problems=[Problem(1, f"unreadable header: {exc}")])
    mapping, problems, ignored = _canonical(header, aliases, required)
    if problems:
        return Outcome(problems=problems, ignored_columns=ignored)
    outcome = Outcome(ignored_columns=ignored)
    previous = reader.line_num
    while True:
        start = previous + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            outcome.problems.append(Problem(start, f"unreadable row: {exc}"))
            previous = reader.line_num
            continue
        previous = reader.line_num
        if reader.line_num != start:
            outcome.problems.append(Problem(start, "a field spans several lines (a stray quote?)"))
            continue
        if not values or all(not v.strip() for v in values):
            continue  # blank line
        if len(values) != len(header):
            outcome.problems.append(
                Problem(start, f"{len(values)} fields where the header has {len(header)}")
            )
            continue
        fields = {
            mapping[name]: value.strip()
            for name, value in zip(header, values, strict=True)
            if name in mapping
        }
        outcome.rows.append(Row(start, fields))
    return outcome


def _feature_lines(text: str, count: int) -> list[int | None]:
    """The line each feature starts on, by decoding the features array one element at a time;
    None for all when the layout is unusual (the features are then counted instead)."""
    match = _FEATURES.search(text)
    if match is None:
        return [None] * count
    decoder = json.JSONDecoder()
    lines: list[int | None] = []
    pos = match.end()
    try:
        for _ in range(count):
            while text[pos] in " \t\r\n,":
                pos += 1
            lines.append(text.count("\n", 0, pos) + 1)
            _, pos = decoder.raw_decode(text, pos)
    except (ValueError, IndexError, RecursionError):
        return [None] * count
    return lines


def _geojson(text: str, aliases: Mapping[str, str], required: frozenset[str]) -> Outcome:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return Outcome(problems=[Problem(exc.lineno, f"not valid JSON: {exc.msg}")])
    except (ValueError, RecursionError):
        return Outcome(problems=[Problem(None, "not valid JSON")])
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return Outcome(problems=[Problem(1, "expected a GeoJSON FeatureCollection")])
    features = doc.get("features")
    if not isinstance(features, list):
        return Outcome(problems=[Problem(1, "the FeatureCollection has no features list")])
    lines = _feature_lines(text, len(features))
    outcome = Outcome()
    ignored: set[str] = set()
    for number, (feature, line) in enumerate(zip(features, lines, strict=True), start=1):
        where = line if line is not None else None
        label = "" if line is not None else f"feature {number}: "
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            outcome.problems.append(Problem(where, f"{label}not a GeoJSON Feature"))
            continue
        geometry = feature.get("geometry")
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(coordinates, list)
            or len(coordinates) < 2
        ):
            outcome.problems.append(Problem(where, f"{label}the geometry must be a Point"))
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            outcome.problems.append(Problem(where, f"{label}properties must be an object"))
            continue
        fields: dict[str, Any] = {}
        for name, value in properties.items():
            column = aliases.get(str(name).strip().lower())
            if column is None:
                ignored.add(str(name))
            elif column in fields:
                outcome.problems.append(Problem(where, f"{label}property {name!r} is repeated"))
            else:
                fields[column] = value
        if "id" not in fields and feature.get("id") is not None:
            fields["id"] = feature["id"]
        fields["lon"], fields["lat"] = coordinates[0], coordinates[1]
        missing = sorted(required - set(fields))
        if missing:
            outcome.problems.append(Problem(where, f"{label}missing {', '.join(missing)}"))
            continue
        outcome.rows.append(Row(line if line is not None else number, fields))
    outcome.ignored_columns = sorted(ignored)
    return outcome


# --- field checks shared by the registries ------------------------------------------------


def text(
    fields: Mapping[str, Any], name: str, *, required: bool = False, max_len: int = 200
) -> str | None:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"{name} is required")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RowError(f"{name} must be text")
    value = str(value).strip()
    if len(value) > max_len:
        raise RowError(f"{name} is longer than {max_len} characters")
    if any(ord(ch) < 32 for ch in value):
        raise RowError(f"{name} contains control characters")
    return value


def identifier(fields: Mapping[str, Any], name: str = "id") -> str:
    value = text(fields, name, required=True, max_len=64)
    assert value is not None
    if not ID.match(value):
        raise RowError(f"{name} {value!r}: use 1-64 letters, digits or . _ : - (no spaces)")
    return value


def number(fields: Mapping[str, Any], name: str, low: float, high: float) -> float:
    value = fields.get(name)
    if isinstance(value, bool) or value is None or value == "":
        raise RowError(f"{name} is required and must be a number")
    try:
        result = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise RowError(f"{name} must be a number: {value!r}") from None
    if not math.isfinite(result) or not low <= result <= high:
        raise RowError(f"{name} must be within {low:g}..{high:g}: {value!r}")
    return result


def flag(fields: Mapping[str, Any], name: str, default: bool = True) -> bool:
    value = fields.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "no", "n", "off"):
        return False
    raise RowError(f"{name} must be true or false: {value!r}")


def secret(fields: Mapping[str, Any], name: str = "key") -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not SECRET.match(value):
        raise RowError(f"{name} must be 32-256 visible ASCII characters without spaces")
    return value


def camera_ids(fields: Mapping[str, Any], name: str = "camera_ids") -> tuple[str, ...]:
    value = fields.get(name)
    if value is None or value == "":
        return ()
    items: list[Any]
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [v for v in re.split(r"[;|\s]+", value) if v]
    else:
        raise RowError(f"{name} must be a list of camera ids")
    result: list[str] = []
    for item in items:
        if not isinstance(item, str) or not CAMERA_ID.match(item):
            raise RowError(f"{name}: bad camera id {item!r}")
        if item not in result:
            result.append(item)
    if len(result) > 64:
        raise RowError(f"{name}: at most 64 cameras per site")
    return tuple(result)
