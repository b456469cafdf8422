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


# The members of open incidents are found through a grid of 0.01° cells (1.1 km north-south,
# 0.6-0.85 km east-west across Kazakhstan), indexed with their arrival: grouping asks for the
# few cells around a point, each since the window's start, so it reads the window's contacts
# nearby, not every contact of the window (100 reports a second fill a 30-minute window with
# 180,000). Exact distance and time are judged on what comes back (choose_incident).
GRID_PER_DEG = 100
_ROW = 360 * GRID_PER_DEG  # cells in a row of latitude
GRID_MAX_CELLS = 64  # more (a huge radius, a point by a pole): read the cells' range instead


def grid_cell(lat: float, lon: float) -> int:
    """The cell of a point; the same arithmetic as the migration that filled the column."""
    return _grid_row(lat) * _ROW + _grid_column(lon)


def grid_cells(
    lat_min: float, lat_max: float, lon_min: float, lon_max: float
) -> list[int] | tuple[int, int]:
    """The cells a box overlaps, or, past GRID_MAX_CELLS, the (first, last) cell numbers
    between which they all lie."""
    if not all(math.isfinite(v) for v in (lat_min, lat_max, lon_min, lon_max)):
        return []
    rows = range(_grid_row(max(lat_min, -90.0)), _grid_row(min(lat_max, 90.0)) + 1)
    columns = range(_grid_column(max(lon_min, -180.0)), _grid_column(min(lon_max, 180.0)) + 1)
    if len(rows) * len(columns) > GRID_MAX_CELLS:
        return rows[0] * _ROW + columns[0], rows[-1] * _ROW + columns[-1]
    return [row * _ROW + column for row in rows for column in columns]


def _grid_row(lat: float) -> int:
    return math.floor((lat + 90.0) * GRID_PER_DEG)


def _grid_column(lon: float) -> int:
    return math.floor((lon + 180.0) * GRID_PER_DEG)


def incident_category(categories: Iterable[str | None]) -> str | None:
    """An incident's category: the first known category of its contacts, in joining order."""
    return next((c for c in categories if c is not None), None)


__all__ = [
    "CATEGORY_WORDS",
    "COMPATIBLE_PAIRS",
    "GRID_MAX_CELLS",
    "GRID_PER_DEG",
    "Candidate",
    "Match",
    "categorize",
    "choose_incident",
    "compatible",
    "grid_cell",
    "grid_cells",
    "incident_category",
]
