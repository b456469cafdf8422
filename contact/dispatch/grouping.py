"""Which contacts are about the same event: place, time and a compatible category.

Pure. A new contact joins the incident with a contact of its own within `radius_m` and within
`window_s` of it (single linkage: a fire seen from two sides of a block chains up), when the
categories are compatible. The nearest such contact decides; none makes a new incident.

Categories come from the citizen's words (Kazakh and Russian keywords; `categorize`). No
category ("help, come quickly") is compatible with any: a caller who does not say what burns
is still about the fire next door. Known categories must be equal, or a pair that is often one
event told two ways (a fight and an injured person, a crash and an injured person, a fire and
an injured person, noise and a fight).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from contact.dispatch.geo import haversine_m

# stems a word starts with; a phrase (with a space) is looked for as it is
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "fire": (
        "пожар", "горит", "горят", "горел", "загорел", "загоран", "возгоран", "дым", "огонь",
        "огня", "пламя", "подожг", "өрт", "жанып", "жанды", "түтін", "тутин", "от шық",
    ),
    "violence": (
        "драк", "дерут", "избив", "избил", "нападен", "напал", "нож", "стреля", "стрельб",
        "оружи", "убива", "убил", "угрожа", "төбелес", "ұрып", "урып", "пышақ", "қару",
        "атыс", "шабуыл",
    ),
    "traffic": (
        "дтп", "авари", "столкну", "сбил", "сбила", "наезд", "перевернул", "соқтығыс",
        "жол апат", "апат", "қағып",
    ),
    "theft": (
        "украл", "украли", "краж", "ограб", "грабит", "угнал", "угон", "ұрла", "урла",
        "тонал", "ұры",
    ),
    "medical": (
        "без сознания", "не реагирует", "не дышит", "скорая", "скорую", "плохо", "ранен",
        "кровь", "ес-түссіз", "естен", "жедел жәрдем", "жараланған",
    ),
    "noise": ("шум", "громко", "кричат", "ругают", "ругаю", "айқай", "шу ", "шулат"),
}  # fmt: skip

COMPATIBLE_PAIRS = frozenset(
    frozenset(pair)
    for pair in (
        ("violence", "medical"),
        ("traffic", "medical"),
        ("fire", "medical"),
        ("noise", "violence"),
    )
)

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)


def categorize(text: str) -> str | None:
    """The category a citizen's words name, or None. The first category in CATEGORY_WORDS
    order wins when several match (a fire with a fight is about the fire first)."""
    lowered = text.lower().replace("ё", "е")
    words = _WORD.findall(lowered)
    padded = f" {' '.join(words)} "
    for category, prefixes, phrases in _MATCHERS:
        if any(word.startswith(prefixes) for word in words) or any(
            phrase in padded for phrase in phrases
        ):
            return category
    return None


def _is_phrase(stem: str) -> bool:
    return " " in stem or "-" in stem


# per category, in order: the stems a word starts with (one str.startswith for all of them)
# and the phrases looked for as they are; a generator per stem was 2 % of the interpreter
_MATCHERS = tuple(
    (
        category,
        tuple(stem for stem in stems if not _is_phrase(stem)),
        tuple(f" {stem.strip()}" for stem in stems if _is_phrase(stem)),
    )
    for category, stems in CATEGORY_WORDS.items()
)


def compatible(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b or frozenset((a, b)) in COMPATIBLE_PAIRS


@dataclass(frozen=True, slots=True)
class Candidate:
    """A contact of an open incident, as grouping sees it."""

    incident_id: str
    contact_id: str
    lat: float
    lon: float
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Match:
    incident_id: str
    contact_id: str  # the nearest contact of that incident
    distance_m: float


def choose_incident(
    *,
    lat: float,
    lon: float,
    at: datetime,
    category: str | None,
    candidates: Iterable[Candidate],
    incident_categories: Mapping[str, str | None],
    radius_m: float,
    window_s: float,
    accuracy_m: float | None = None,
) -> Match | None:
    """The incident a new contact belongs to, or None for a new incident.

    The radius grows by the contact's reported accuracy, up to doubling: a phone that says
    "within 80 m" may be 80 m further from the others than its point.
    """
    slack = min(accuracy_m, radius_m) if accuracy_m is not None and accuracy_m > 0 else 0.0
    reach = radius_m + slack
    best: Match | None = None
    best_key: tuple[float, float] | None = None
    for c in candidates:
        if abs((at - c.received_at).total_seconds()) > window_s:
            continue
        if not compatible(category, incident_categories.get(c.incident_id)):
            continue
        distance = haversine_m(lat, lon, c.lat, c.lon)
        if distance > reach or not math.isfinite(distance):
            continue
        # nearest first; among equals the most recent contact's incident
        key = (distance, -c.received_at.timestamp())
        if best_key is None or key < best_key:
            best, best_key = Match(c.incident_id, c.contact_id, distance), key
    return best


def incident_category(categories: Iterable[str | None]) -> str | None:
    """An incident's category: the first known category of its contacts, in joining order."""
    return next((c for c in categories if c is not None), None)


__all__ = [
    "CATEGORY_WORDS",
    "COMPATIBLE_PAIRS",
    "Candidate",
    "Match",
    "categorize",
    "choose_incident",
    "compatible",
    "incident_category",
]
