"""A stand-in speech engine: the shape of contact.transcribe.engine.VoskEngine, with scripted
results, for tests that need to know what the recogniser "heard" (a keyword) or to make it
slow (the watchdog)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from contact.transcribe.engine import Utterance, Word


@dataclass
class ScriptedRecognizer:
    """Says `words` as one utterance once `after_s` of audio came (a partial of the first word
    before that); sleeps `cost` seconds per second of audio (a slow recogniser)."""

    words: tuple[str, ...]
    after_s: float
    rate: int
    cost: float = 0.0
    heard_s: float = 0.0
    said: bool = False

    def accept(self, pcm: bytes) -> Utterance | None:
        seconds = len(pcm) / (2 * self.rate)
        if self.cost:
            time.sleep(seconds * self.cost)
        self.heard_s += seconds
        if not self.said and self.heard_s >= self.after_s:
            self.said = True
            step = 0.3
            words = tuple(
                Word(w, self.after_s + i * step, self.after_s + (i + 1) * step, 0.9)
                for i, w in enumerate(self.words)
            )
            return Utterance(" ".join(self.words), words)
        return None

    def partial(self) -> str:
        return "" if self.said or not self.words else self.words[0]

    def finish(self) -> Utterance | None:
        return None


@dataclass
class ScriptedEngine:
    words: tuple[str, ...] = ("пистолет",)
    after_s: float = 0.5
    cost: float = 0.0
    languages: tuple[str, ...] = ("kk", "ru")
    # the words of each leg in the order their recognizers are made (then `words`)
    scripts: list[tuple[str, ...]] = field(default_factory=list)
    made: list[ScriptedRecognizer] = field(default_factory=list)

    def installed(self, language: str) -> bool:
        return language in self.languages

    def recognizer(self, language: str, sample_rate: int) -> ScriptedRecognizer:
        words = self.scripts[len(self.made)] if len(self.made) < len(self.scripts) else self.words
        rec = ScriptedRecognizer(words, self.after_s, sample_rate, self.cost)
        self.made.append(rec)
        return rec
