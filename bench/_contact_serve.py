"""How the out-of-process benchmarks (bench_report_to_screen, bench_webhooks) run
`contact serve`: its command and its environment."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def contact_executable() -> str:
    """The `contact` command of this venv, else the one on PATH."""
    local = Path(sys.executable).parent / "contact"
    if local.exists():
        return str(local)
    found = shutil.which("contact")
    if found is None:
        raise SystemExit("`contact` is not installed: activate the venv (pip install -e .)")
    return found


def contact_serve_env(tmp: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of a `contact serve` on embedded defaults (SQLite in tmp, the
    in-process queue and bus) on 127.0.0.1:port, logging warnings: this process's environment
    without its CONTACT_* variables, plus these and `settings` (CONTACT_* names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACT_")}
    env.update(
        CONTACT_DATA_DIR=str(tmp),
        CONTACT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.db",
        CONTACT_HTTP_HOST="127.0.0.1",
        CONTACT_HTTP_PORT=str(port),
        CONTACT_LOG_LEVEL="WARNING",
    )
    env.update(settings)
    return env
