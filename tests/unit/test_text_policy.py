"""The one text and number policy of every edge (contact/text_policy.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contact import text_policy
from contact.errors import BadRequest
from tests.hostile import HOSTILE_TEXT

ANY_TEXT = st.text(alphabet=st.characters(categories=["Cs", "Cc", "L", "N", "P", "S", "Z", "M"]))


@given(ANY_TEXT | HOSTILE_TEXT)
def test_clean_text_is_always_storable_and_stable(text: str) -> None:
    cleaned = text_policy.clean(text)
    cleaned.encode("utf-8")  # never raises: no surrogate is left
    assert not any(c < " " and c not in "\t\n\r" for c in cleaned)
    assert text_policy.clean(cleaned) == cleaned


@given(st.text())  # hypothesis' default: no surrogates
def test_ordinary_text_is_unchanged_but_for_controls(text: str) -> None:
    expected = "".join(c for c in text if c >= " " or c in "\t\n\r")
    assert text_policy.clean(text) == expected


def test_the_cases_seen_from_outside() -> None:
    assert text_policy.clean("Помогите \ud83d") == "Помогите \ufffd"
    assert text_policy.clean("a\x00b\x07c\td\r\ne") == "abc\td\r\ne"
    assert text_policy.clean("\ud83d\ude00") == "\ufffd\ufffd"  # a pair, but as two strings
    assert text_policy.loads('"\\ud83d\\ude00"') == "\U0001f600"  # JSON joins a real pair
    assert text_policy.loads(b'{"a\\ud83d": ["\\u0000x"]}') == {"a\ufffd": ["x"]}
    assert text_policy.loads(b'"\xed\xa0\xbd x"') == "\ufffd x"  # an encoded surrogate
    assert set(text_policy.loads(b'"\xed\xa0\xbd \xff"')) == {"\ufffd", " "}  # and invalid
    assert text_policy.decode_bytes("Вор \ud83d".encode("utf-8", "surrogatepass")) == "Вор \ufffd"
    assert text_policy.decode_bytes(b"\xff ok") == "\ufffd ok"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_are_a_400(literal: str) -> None:
    with pytest.raises(BadRequest) as refused:
        text_policy.loads(f'{{"lat": {literal}}}'.encode())
    assert refused.value.error_id == "bad_number"
    assert text_policy.loads(f'{{"lat": {literal}}}', finite=False)["lat"] != 0


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_numbers_pass(number: float) -> None:
    assert text_policy.loads(json.dumps({"x": number}))["x"] == number
