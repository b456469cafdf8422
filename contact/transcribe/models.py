"""Speech models on disk: which language has an installed Vosk model, and where.

`contact models install|add|list` put models into `CONTACT_MODELS_DIR`, one directory per
language (`<dir>/<language>/`, a Vosk model directory with `am/`, `conf/`, `graph/` …).
The recogniser only asks `find_model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# what the `models install` command names, per language (the pinned catalogue lives with it)
LANGUAGES = ("kk", "ru")


@dataclass(frozen=True, slots=True)
class ModelStatus:
    language: str
    path: Path | None  # None: not installed

    @property
    def installed(self) -> bool:
        return self.path is not None


def find_model(models_dir: Path, language: str) -> Path | None:
    """The installed model directory for `language`, or None."""
    path = models_dir.expanduser() / language
    return path if (path / "conf").is_dir() or (path / "am").is_dir() else None


def statuses(models_dir: Path, languages: tuple[str, ...] = LANGUAGES) -> list[ModelStatus]:
    return [ModelStatus(language, find_model(models_dir, language)) for language in languages]


# written by `contact models install|add` inside each installed model directory (Vosk ignores it)
MANIFEST = "contact-model.json"


def is_model_dir(path: Path) -> bool:
    """A Vosk model directory: `am/final.mdl`, `conf/` and `graph/` (what libvosk loads)."""
    return (
        (path / "am" / "final.mdl").is_file()
        and (path / "conf").is_dir()
        and (path / "graph").is_dir()
    )


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    """What `contact models install|add` recorded about a model, or None (added by hand)."""
    try:
        data = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
