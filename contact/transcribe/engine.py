"""Speech recognition engines: the seam between a leg's audio and its text.

`SpeechEngine` gives a `Recognizer` per leg; every method of a Recognizer is blocking and is
only called from the recognition pool's threads (contact/transcribe/pool.py), one call at a
time per recognizer. `VoskEngine` is the real one: one Vosk `Model` per language per process,
shared by every leg (a model takes seconds and hundreds of MB to load), one `KaldiRecognizer`
per leg. Tests use a stand-in engine with the same shape.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from contact.transcribe.models import find_model

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Utterance:
    """A final result: the words of one stretch of speech, times from the leg's start."""

    text: str
    words: tuple[Word, ...]

    @property
    def start_s(self) -> float:
        return self.words[0].start_s if self.words else 0.0

    @property
    def end_s(self) -> float:
        return self.words[-1].end_s if self.words else 0.0

    @property
    def confidence(self) -> float:
        if not self.words:
            return 0.0
        return sum(w.confidence for w in self.words) / len(self.words)


class Recognizer(Protocol):
    def accept(self, pcm: bytes) -> Utterance | None:
        """Feed signed 16-bit PCM; an Utterance when one ended with this audio."""
        ...

    def partial(self) -> str: ...

    def finish(self) -> Utterance | None:
        """The end of the leg: what was said since the last utterance."""
        ...


class SpeechEngine(Protocol):
    def installed(self, language: str) -> bool: ...

    def recognizer(self, language: str, sample_rate: int) -> Recognizer:
        """Blocking (may load the model): called from the pool."""
        ...


def utterance(raw: str) -> Utterance | None:
    """Vosk's result JSON (with SetWords(True)) → an Utterance; None when nothing was said."""
    data = json.loads(raw)
    words = tuple(
        Word(
            word=str(w.get("word", "")),
            start_s=float(w.get("start", 0.0)),
            end_s=float(w.get("end", 0.0)),
            confidence=float(w.get("conf", 0.0)),
        )
        for w in data.get("result", ())
        if isinstance(w, dict)
    )
    text = str(data.get("text", "")).strip()
    return Utterance(text, words) if text else None


class VoskRecognizer:
    def __init__(self, recognizer: Any) -> None:
        self._rec = recognizer

    def accept(self, pcm: bytes) -> Utterance | None:
        if self._rec.AcceptWaveform(pcm):
            return utterance(self._rec.Result())
        return None

    def partial(self) -> str:
        return str(json.loads(self._rec.PartialResult()).get("partial", ""))

    def finish(self) -> Utterance | None:
        return utterance(self._rec.FinalResult())


# The loaded models of this process, by model directory. Process-wide on purpose: a Model is
# read-only once loaded and safe to share between threads, and loading one twice (several
# containers in one test process, a restart of the transcription service) would cost seconds
# and hundreds of MB each time.
_MODELS: dict[Path, Any] = {}
_MODELS_LOCK = threading.Lock()


def load_model(path: Path) -> Any:
    key = path.resolve()
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            import vosk  # imported here: a node without transcription never loads libvosk

            vosk.SetLogLevel(-1)
            log.info("loading speech model %s", key)
            model = vosk.Model(str(key))
            _MODELS[key] = model
        return model


class VoskEngine:
    def __init__(self, models_dir: Path, languages: tuple[str, ...] = ("kk", "ru")) -> None:
        self._dir = models_dir
        self._languages = languages

    def path(self, language: str) -> Path | None:
        return find_model(self._dir, language)

    def installed(self, language: str) -> bool:
        return self.path(language) is not None

    def load_all(self) -> list[str]:
        """Load every installed model now (at start, in the pool): the first call of each
        language must not wait for it. Returns the languages loaded."""
        done = []
        for language in self._languages:
            path = self.path(language)
            if path is not None:
                load_model(path)
                done.append(language)
        return done

    def recognizer(self, language: str, sample_rate: int) -> Recognizer:
        path = self.path(language)
        if path is None:
            raise LookupError(f"no speech model for {language}")
        import vosk

        rec = vosk.KaldiRecognizer(load_model(path), float(sample_rate))
        rec.SetWords(True)
        rec.SetPartialWords(False)
        return VoskRecognizer(rec)


EngineFactory = Callable[[], SpeechEngine]
