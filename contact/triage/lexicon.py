"""The triage lexicon: entries (term, language, category, weight), validated and normalised,
read from and written to TOML (the packaged lexicon.toml is the default; `contact triage
lexicon import|list` speaks the same format)."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from contact.domain.triage import WEIGHT_MAX, WEIGHT_MIN, Category
from contact.errors import Unprocessable
from contact.triage.text import words

LANGUAGES = ("ru", "kk")
MAX_TERM_WORDS = 4
MAX_TERM_CHARS = 64
MAX_ENTRIES = 5_000


@dataclass(frozen=True, slots=True)
class Entry:
    term: str  # normalised: lower case, letters, single spaces, Latin-script Kazakh in Cyrillic
    lang: str
    category: Category
    weight: float

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.lang, self.category.value, self.term)

    def as_json(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "lang": self.lang,
            "category": self.category.value,
            "weight": self.weight,
        }


def normalise_term(term: str) -> str:
    return " ".join(words(term))


def entry(term: Any, lang: Any, category: Any, weight: Any) -> Entry:
    """A validated, normalised entry; Unprocessable (422) with the field at fault."""
    if not isinstance(term, str) or not isinstance(lang, str) or not isinstance(category, str):
        raise Unprocessable("term, lang and category are strings", error_id="invalid_entry")
    if lang not in LANGUAGES:
        raise Unprocessable(
            f"unknown language {lang!r}", error_id="unknown_language", details={"lang": lang}
        )
    try:
        known = Category(category)
    except ValueError:
        raise Unprocessable(
            f"unknown category {category!r}",
            error_id="unknown_category",
            details={"category": category, "known": sorted(c.value for c in Category)},
        ) from None
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise Unprocessable("weight is a number", error_id="invalid_weight")
    if not WEIGHT_MIN <= weight <= WEIGHT_MAX:
        raise Unprocessable(
            f"weight is between {WEIGHT_MIN} and {WEIGHT_MAX}",
            error_id="invalid_weight",
            details={"weight": weight},
        )
    normal = normalise_term(term)
    if not normal:
        raise Unprocessable("a term needs letters", error_id="empty_term")
    if len(normal) > MAX_TERM_CHARS or normal.count(" ") >= MAX_TERM_WORDS:
        raise Unprocessable(
            f"a term is at most {MAX_TERM_WORDS} words and {MAX_TERM_CHARS} characters",
            error_id="term_too_long",
        )
    return Entry(term=normal, lang=lang, category=known, weight=round(float(weight), 3))


def unique(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per (lang, category, term), the last one winning; sorted for listing."""
    by_key = {e.key: e for e in entries}
    if len(by_key) > MAX_ENTRIES:
        raise Unprocessable(f"at most {MAX_ENTRIES} entries", error_id="too_many_entries")
    return [by_key[k] for k in sorted(by_key)]


def from_toml(text: str) -> list[Entry]:
    """Entries of a lexicon in the TOML format of lexicon.toml ([category.lang] term = weight)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise Unprocessable(f"not TOML: {error}", error_id="invalid_toml") from None
    out: list[Entry] = []
    for category, langs in doc.items():
        if not isinstance(langs, Mapping):
            raise Unprocessable(f"[{category}] holds tables per language", error_id="invalid_toml")
        for lang, terms in langs.items():
            if not isinstance(terms, Mapping):
                raise Unprocessable(
                    f"[{category}.{lang}] holds term = weight", error_id="invalid_toml"
                )
            out.extend(entry(term, lang, category, weight) for term, weight in terms.items())
    return unique(out)


def to_toml(entries: Iterable[Entry]) -> str:
    lines: list[str] = []
    table = None
    for e in sorted(entries, key=lambda e: (e.category.value, e.lang, -e.weight, e.term)):
        if (e.category, e.lang) != table:
            table = (e.category, e.lang)
            lines.append(f"\n[{e.category.value}.{e.lang}]")
        lines.append(f'"{e.term}" = {e.weight}')
    return "\n".join(lines).lstrip() + "\n"


def from_json(items: Any) -> list[Entry]:
    """Entries of an API body: a list of {term, lang, category, weight}."""
    if not isinstance(items, list):
        raise Unprocessable("entries is a list", error_id="invalid_entry")
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            raise Unprocessable("an entry is an object", error_id="invalid_entry")
        out.append(
            entry(item.get("term"), item.get("lang"), item.get("category"), item.get("weight"))
        )
    return unique(out)


def packaged() -> list[Entry]:
    """The lexicon shipped with contact (contact/triage/lexicon.toml)."""
    return from_toml(resources.files("contact.triage").joinpath("lexicon.toml").read_text())
