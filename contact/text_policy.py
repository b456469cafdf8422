"""What text the system accepts, decided once for every edge (webhooks, the app, kiosks,
alarms, cameras, the operator API): anything that arrives is made storable, never refused.

- A lone UTF-16 surrogate ("\\ud83d", half an emoji cut by a client counting UTF-16 units) and
  bytes that are not UTF-8 become U+FFFD: the rest of the citizen's words still reach the
  operator, and no database or encoder can fail on the string later (UTF-8 has no encoding
  for a surrogate: such a string used to be acknowledged and then fail at every insert).
- NUL and the other C0 control characters except TAB, LF and CR are dropped: PostgreSQL's
  text refuses NUL, and the controls only garble a screen or a log line.

Numbers in JSON are finite: NaN, Infinity and literals that overflow a double (1e999) are a
400 here, before any field's own range is looked at.
"""

from __future__ import annotations

import json
import re
from typing import Any

from contact.errors import BadRequest

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def clean(text: str) -> str:
    """The text as the system keeps it (see the module's docstring)."""
    if text.isascii():
        return _CONTROL.sub("", text) if not text.isprintable() else text
    text = _SURROGATE.sub(REPLACEMENT, text)
    return _CONTROL.sub("", text)


def clean_json(value: Any) -> Any:
    """Every string of a decoded JSON value (object keys too) cleaned."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def decode_bytes(raw: bytes) -> str:
    """Bytes sent as UTF-8 text (a multipart field, a form value), as JSON's bytes are read: an
    encoded surrogate is one U+FFFD, other invalid sequences are replaced."""
    try:
        return clean(raw.decode("utf-8", "surrogatepass"))
    except UnicodeDecodeError:
        return clean(raw.decode("utf-8", "replace"))


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a number this API takes", error_id="bad_number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise BadRequest(f"{literal[:40]} is out of range", error_id="bad_number")
    return value


def loads(raw: bytes | str, *, finite: bool = True) -> Any:
    """JSON as the edges take it: text cleaned, numbers finite. Raises ValueError (or
    RecursionError) for what is not JSON, BadRequest for a non-finite number. `finite=False`
    lets non-finite numbers through (items stored before this policy: their parsers cope)."""
    hooks: dict[str, Any] = (
        {"parse_constant": _refuse_constant, "parse_float": _finite_float} if finite else {}
    )
    if isinstance(raw, bytes):
        try:
            value = json.loads(raw, **hooks)
        except UnicodeDecodeError:
            raw = raw.decode("utf-8", "replace")
        else:
            return clean_json(value)
    return clean_json(json.loads(raw, **hooks))
