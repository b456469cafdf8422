"""Fake Vosk model archives and a local HTTP server standing in for the models' download site
(Range requests for resumed downloads, a truncating mode, 404 for what it does not hold)."""

from __future__ import annotations

import io
import stat
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL_FILES = {
    "am/final.mdl": b"\x00B<TransitionModel>" + b"m" * 4000,
    "conf/model.conf": b"--min-active=200\n--max-active=3000\n",
    "conf/mfcc.conf": b"--sample-frequency=16000\n",
    "graph/HCLr.fst": b"fst" * 3000,
    "graph/Gr.fst": b"gr" * 2000,
    "graph/phones/word_boundary.int": b"1 nonword\n",
    "README": b"a fake model for tests\n",
}


def make_model_dir(root: Path, marker: str = "one") -> Path:
    """A directory laid out like a Vosk model; `marker` tells two of them apart."""
    for name, data in MODEL_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "marker.txt").write_text(marker)
    return root


def model_zip(name: str, marker: str = "one", extra: dict[str, bytes] | None = None) -> bytes:
    """`<name>/am/final.mdl …` as the Vosk project packs its archives."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}/", b"")
        for path, data in MODEL_FILES.items():
            zf.writestr(f"{name}/{path}", data)
        zf.writestr(f"{name}/marker.txt", marker.encode())
        for path, data in (extra or {}).items():
            zf.writestr(path, data)
    return buffer.getvalue()


def symlink_zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path, data in MODEL_FILES.items():
            zf.writestr(f"{name}/{path}", data)
        link = zipfile.ZipInfo(f"{name}/conf/evil")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    return buffer.getvalue()


@dataclass
class Site:
    """What the stand-in download site serves: file name → bytes."""

    files: dict[str, bytes] = field(default_factory=dict)
    truncate_at: int | None = None  # send the full Content-Length, then close after this many
    ranges: list[str] = field(default_factory=list)  # Range headers received
    url: str = ""


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = site.files.get(self.path.rsplit("/", 1)[-1])
            if data is None:
                self.send_error(404)
                return
            start = 0
            wanted = self.headers.get("Range")
            if wanted:
                site.ranges.append(wanted)
                start = int(wanted.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/zip")
            self.end_headers()
            if site.truncate_at is not None:
                self.wfile.write(body[: site.truncate_at])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site.url = f"http://127.0.0.1:{server.server_address[1]}/vosk/models"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
