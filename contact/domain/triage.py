"""Priority rules as pure functions.

Triage of the citizen's words ends here: contact/triage finds lexicon hits (lemmas, Kazakh
stems, one automaton) and `decide` turns them into a Verdict (intent, category) by weights,
negation and context; `priority_for` and `raised_priority` turn a verdict into a priority.

Queue order is one number per contact, lowest first: `queue_score`. It is the arrival time
plus a fixed offset per priority, so within a priority the oldest goes first and a lower
priority contact that has waited longer than the gap between two offsets overtakes newer
urgent ones: aging without ever re-scoring what waits (a Redis ZSET keeps it as is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from contact.domain.model import ChannelKind, Priority

CHANNEL_PRIORITY: dict[ChannelKind, Priority] = {
    ChannelKind.SCHOOL_ALARM: Priority.ALARM,
    ChannelKind.KIOSK: Priority.SOS,
    ChannelKind.APP_SOS: Priority.SOS,
    ChannelKind.VOICE: Priority.VOICE,
    ChannelKind.VIDEO: Priority.VIDEO,
    ChannelKind.APP: Priority.CHAT,
    ChannelKind.TELEGRAM: Priority.CHAT,
    ChannelKind.WHATSAPP: Priority.CHAT,
    ChannelKind.CAMERA: Priority.CHAT,
    ChannelKind.CALLBACK: Priority.INFO,
}

# Seconds a contact of this priority is placed behind an ALARM that arrived at the same
# moment. A chat overtakes a new 102 call after waiting 4 minutes, a new alarm after 30.
DEFAULT_AGING_OFFSETS: dict[Priority, float] = {
    Priority.ALARM: 0.0,
    Priority.SOS: 600.0,
    Priority.VOICE: 1200.0,
    Priority.VIDEO: 1260.0,
    Priority.CHAT: 1440.0,
    Priority.INFO: 1800.0,
}

# A callback task is a 102 call the centre owes a citizen who was not answered or was cut off.
# It queues among the 102 calls, not behind ten minutes of aging like an information request:
# placed as a 102 call that rang CALLBACK_AFTER_VOICE_S after the task was made, so callers
# still on the line within that half minute go first (they can still be lost; the task cannot)
# and later ones, video calls, chats and information requests after it; alarms and SOS before
# it, as before any call.
CALLBACK_AFTER_VOICE_S = 30.0


class Intent(StrEnum):
    """What a citizen's words ask of the centre."""

    SOS = "sos"  # danger now: the contact goes up to SOS priority
    ORDINARY = "ordinary"  # a report to take in turn
    INFORMATION = "information"  # a question: information priority


class Category(StrEnum):
    """A lexicon entry's category; each belongs to one intent (CATEGORY_INTENT)."""

    WEAPON = "weapon"
    FIRE = "fire"
    VIOLENCE = "violence"
    INJURED = "injured"
    CHILD = "child"
    HOSTAGE = "hostage"
    EXPLOSION = "explosion"
    ROAD_ACCIDENT = "road_accident"
    THEFT = "theft"
    LOST_DOCUMENTS = "lost_documents"
    NOISE = "noise"
    PROCEDURE = "procedure"
    REPORT_STATUS = "report_status"
    OFFICE_ADDRESS = "office_address"


# In order of precedence: the first of two SOS categories with equal evidence names the alert.
CATEGORY_INTENT: dict[Category, Intent] = {
    Category.HOSTAGE: Intent.SOS,
    Category.EXPLOSION: Intent.SOS,
    Category.WEAPON: Intent.SOS,
    Category.FIRE: Intent.SOS,
    Category.VIOLENCE: Intent.SOS,
    Category.CHILD: Intent.SOS,
    Category.ROAD_ACCIDENT: Intent.SOS,
    Category.INJURED: Intent.SOS,
    Category.THEFT: Intent.ORDINARY,
    Category.LOST_DOCUMENTS: Intent.ORDINARY,
    Category.NOISE: Intent.ORDINARY,
    Category.PROCEDURE: Intent.INFORMATION,
    Category.REPORT_STATUS: Intent.INFORMATION,
    Category.OFFICE_ADDRESS: Intent.INFORMATION,
}
SOS_CATEGORIES = frozenset(c for c, i in CATEGORY_INTENT.items() if i is Intent.SOS)
_PRECEDENCE = {c: n for n, c in enumerate(CATEGORY_INTENT)}
_INTENT_RANK = {Intent.SOS: 2, Intent.INFORMATION: 1, Intent.ORDINARY: 0}

# Evidence a category needs: the sum of its distinct, non-negated hits' weights. A weight of
# 1.0 is enough alone ("пистолет"); 0.5 needs a second word ("ребёнок" + "один дома").
THRESHOLD = 1.0
# A question about procedure (info evidence >= THRESHOLD) asks for more before an SOS:
# "Как получить разрешение на охотничье ружьё?" names a weapon and is no emergency.
SOS_THRESHOLD_IN_A_QUESTION = 2.0
WEIGHT_MIN, WEIGHT_MAX = 0.1, 3.0


class Hit(NamedTuple):
    """One lexicon entry found in a text: its term, the citizen's own words that matched.
    A tuple: the matcher makes one per hit, tens of thousands a second."""

    term: str
    category: Category
    weight: float
    words: str
    negated: bool = False
    span: tuple[int, int] = (0, 0)  # first and last word of the text that matched


@dataclass(frozen=True, slots=True)
class Verdict:
    intent: Intent | None  # None: nothing the lexicon knows
    category: Category | None
    hits: tuple[Hit, ...] = ()

    @property
    def alarming(self) -> bool:
        return self.intent is Intent.SOS

    @property
    def words(self) -> tuple[str, ...]:
        """The citizen's words behind the verdict's category (for the keyword badge)."""
        seen: dict[str, None] = {}
        for hit in self.hits:
            if not hit.negated and CATEGORY_INTENT[hit.category] is self.intent:
                seen.setdefault(hit.words)
        return tuple(seen)


NOTHING = Verdict(intent=None, category=None)
CHILD_NAMED = 0.5  # a word for a child (ребёнок, бала) among the child category's hits


def _counted(hits: tuple[Hit, ...]) -> list[Hit]:
    """The hits that count: not negated, one per term and category, and within a category
    none inside the span of a heavier or longer one ("түтін" inside "түтін шығып",
    "пострадать" beside "пострадавший" on the same word)."""
    live = [h for h in hits if not h.negated]
    if len(live) < 2:
        return live
    live.sort(key=_widest_heaviest)
    kept: list[Hit] = []
    for hit in live:
        first, last = hit.span
        for k in kept:
            if k.category is hit.category and (
                k.term == hit.term or (k.span[0] <= first and last <= k.span[1])
            ):
                break
        else:
            kept.append(hit)
    return kept


def _widest_heaviest(hit: Hit) -> tuple[int, float]:
    return (hit.span[0] - hit.span[1], -hit.weight)


def decide(hits: Iterable[Hit]) -> Verdict:
    """The verdict on a text's hits: pure, so the rules are tested without a lexicon.

    Negated hits count for nothing ("не горит", "өрт жоқ"). Two combinations are read as one
    event: a road accident with anyone hurt is a road accident (its own words are often only
    "ДТП", "авария"), and a child hurt or beaten is a child in danger. SOS beats a question,
    which beats an ordinary report."""
    hits = tuple(hits)
    scores: dict[Category, float] = {}
    for hit in _counted(hits):
        scores[hit.category] = scores.get(hit.category, 0.0) + hit.weight
    if not scores:
        return Verdict(intent=None, category=None, hits=hits)
    if Category.ROAD_ACCIDENT in scores and Category.INJURED in scores:
        scores[Category.ROAD_ACCIDENT] += scores.pop(Category.INJURED)
    if scores.get(Category.CHILD, 0.0) >= CHILD_NAMED:
        for harm in (Category.VIOLENCE, Category.INJURED):
            scores[Category.CHILD] += scores.pop(harm, 0.0)
    info = 0.0
    for category, value in scores.items():
        if _INTENT_RANK[CATEGORY_INTENT[category]] == 1 and value > info:
            info = value
    sos_needs = (SOS_THRESHOLD_IN_A_QUESTION if info >= THRESHOLD else THRESHOLD) - 1e-9
    best: tuple[int, float, int, Category] | None = None
    for category, value in scores.items():
        intent_rank = _INTENT_RANK[CATEGORY_INTENT[category]]
        if value >= (sos_needs if intent_rank == 2 else THRESHOLD - 1e-9):
            # SOS over a question over an ordinary report; then the evidence; then precedence
            rank = (intent_rank, value, -_PRECEDENCE[category], category)
            if best is None or rank[:3] > best[:3]:
                best = rank
    if best is not None:
        return Verdict(intent=CATEGORY_INTENT[best[3]], category=best[3], hits=hits)
    return Verdict(intent=None, category=None, hits=hits)


def priority_for(
    channel: ChannelKind, verdict: Verdict = NOTHING, *, information_only: bool = False
) -> Priority:
    """The priority a new contact gets from its channel and the triage of the citizen's own
    first words (contact/triage reads only RegisterContact.triage_text: never an address, a
    place name or other location data, nor labels the system composed)."""
    base = CHANNEL_PRIORITY[channel]
    if (information_only or verdict.intent is Intent.INFORMATION) and base >= Priority.CHAT:
        return Priority.INFO
    if base > Priority.SOS and verdict.alarming:
        return Priority.SOS
    return base


def raised_priority(current: Priority, verdict: Verdict) -> Priority | None:
    """The priority a waiting contact moves up to when the citizen's later words (a chat
    message, a caller's transcript) are alarming; None: it stays where it is."""
    if verdict.alarming and current > Priority.SOS:
        return Priority.SOS
    return None


def queue_score(
    priority: Priority,
    queued_at: datetime,
    offsets: Mapping[Priority, float] = DEFAULT_AGING_OFFSETS,
    *,
    channel: ChannelKind | None = None,
) -> float:
    if channel is ChannelKind.CALLBACK:
        return queued_at.timestamp() + offsets[Priority.VOICE] + CALLBACK_AFTER_VOICE_S
    return queued_at.timestamp() + offsets[priority]
