"""Scoring triage on a labelled corpus (tests/data/triage_corpus.tsv): precision and recall per
category, and of SOS as a whole. Shared by the test that holds the floor and the bench that
prints the figures."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from contact.domain.triage import CATEGORY_INTENT, SOS_CATEGORIES, Category, Verdict

NONE = "none"


@dataclass(frozen=True, slots=True)
class Sample:
    labels: tuple[str, ...]  # accepted categories ("none": nothing the lexicon knows)
    lang: str
    text: str

    @property
    def sos(self) -> bool:
        return self.labels[0] in {c.value for c in SOS_CATEGORIES}


def read(path: Path) -> list[Sample]:
    out = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        labels, lang, text = line.split("\t")
        out.append(Sample(tuple(labels.split("|")), lang, text))
    return out


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    samples: int = 0
    categories: dict[str, Score] = field(default_factory=dict)  # exact category
    sos_alarm: dict[str, Score] = field(default_factory=dict)  # an SOS category: alarmed at all?
    sos: Score = field(default_factory=Score)  # SOS vs not, over the whole corpus
    misses: list[tuple[Sample, str]] = field(default_factory=list)


def score(samples: Iterable[Sample], analyse: Callable[[str], Verdict]) -> Report:
    report = Report()
    for sample in samples:
        report.samples += 1
        verdict = analyse(sample.text)
        got = verdict.category.value if verdict.category is not None else NONE
        gold = got if got in sample.labels else sample.labels[0]
        if got != gold:
            report.misses.append((sample, got))
            report.categories.setdefault(got, Score()).fp += 1
            report.categories.setdefault(gold, Score()).fn += 1
        else:
            report.categories.setdefault(gold, Score()).tp += 1
        alarmed = verdict.alarming
        if sample.sos:
            alarm = report.sos_alarm.setdefault(gold, Score())
            if alarmed:
                alarm.tp += 1
                report.sos.tp += 1
            else:
                alarm.fn += 1
                report.sos.fn += 1
        elif alarmed:
            report.sos.fp += 1
    return report


def table(report: Report) -> str:
    """A Markdown table: category, intent, n, precision, recall (and SOS-alarm recall)."""
    rows = [
        "| category | intent | messages | precision | recall | alarmed (SOS) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    names = [c.value for c in CATEGORY_INTENT] + [NONE]
    for name in names:
        s = report.categories.get(name, Score())
        intent = CATEGORY_INTENT[Category(name)].value if name != NONE else "ordinary"
        alarm = report.sos_alarm.get(name)
        rows.append(
            f"| {name} | {intent} | {s.tp + s.fn} | {s.precision:.2f} | {s.recall:.2f} | "
            + (f"{alarm.recall:.2f} |" if alarm else "– |")
        )
    s = report.sos
    rows.append(
        f"| **all SOS** | sos | {s.tp + s.fn} | {s.precision:.2f} | {s.recall:.2f} | "
        f"{s.recall:.2f} |"
    )
    return "\n".join(rows)
