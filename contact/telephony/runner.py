"""Run the Asterisk of asterisk-config/ on this machine: render a run directory, start, stop.

Three ways to start it (CONTACT_ASTERISK_LAUNCHER): a native `asterisk` on PATH; the Debian sid
root filesystem made by scripts/asterisk-rootfs.sh, chrooted inside a private mount namespace
with the directories it needs bind-mounted at the same paths (root only; the mounts vanish with
the process); or that root filesystem through its own dynamic loader (any user). Every path in
the rendered configuration is the same inside and outside, so one rendering serves all three.

Run directory (CONTACT_ASTERISK_RUN_DIR, default <cache_dir>/run):
    asterisk.conf      [directories] into this directory + asterisk-config/asterisk.conf
    etc/               symlinks to asterisk-config/*.conf, rendered/ (ports, AMI user, secrets)
    data/              stock sounds, music on hold, docs + contact's prompts (symlinks)
    secrets.json       generated AMI secret and SIP passwords, kept across runs (0600)
    asterisk.pid       written once Asterisk is fully booted
    log/               console.log (stdout/stderr), messages.log
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import posixpath
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from contact.config import AsteriskSettings
from contact.errors import ContactError

log = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_DIR = _REPO / "asterisk-config"
PROVISION_SCRIPT = _REPO / "scripts" / "asterisk-rootfs.sh"

ROOTFS_NAME = "asterisk-sid"
ROOTFS_STAMP = ".contact-provisioned"
_SID_ASTERISK = "/usr/sbin/asterisk"
_SID_MODDIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
_SID_LIBDIR = "/usr/lib/x86_64-linux-gnu"
_SID_DATADIR = "/usr/share/asterisk"
_NATIVE_DATADIRS = ("/usr/share/asterisk", "/var/lib/asterisk")
_AUDIO_SUFFIXES = frozenset(
    {".wav", ".wav16", ".sln", ".sln16", ".sln48", ".gsm", ".ulaw", ".alaw", ".g722", ".ogg"}
)
# sections built on this template get a generated password (asterisk-config/pjsip.conf)
_AUTH_SECTION = re.compile(r"^\[([A-Za-z0-9_.-]+)\]\(auth-digest\)", re.MULTILINE)
# `;` starts a comment and a newline ends the value in Asterisk's configuration files
_UNSAFE_SECRET = re.compile(r"[;\s\[\]\"]")

# mounts what Asterisk needs at the same paths, then becomes Asterisk (exec keeps the pid)
_CHROOT_SH = (
    'set -e; root="$1"; shift; mount -t proc proc "$root/proc"; '
    'while [ "$1" != -- ]; do mkdir -p "$root$1"; mount --bind "$1" "$root$1"; shift; done; '
    'shift; exec chroot "$root" "$@"'
)


class AsteriskError(ContactError):
    error_id = "asterisk_unavailable"
    status = 503


class _Secrets(TypedDict):
    ami: str
    sip: dict[str, str]


@dataclass(frozen=True)
class AsteriskStatus:
    running: bool
    pid: int | None
    launcher: str | None
    run_dir: Path
    ami: str
    sip: str
    websocket: str


@dataclass(frozen=True)
class _Launch:
    kind: str
    argv: list[str]
    moddir: str | None  # None: the binary's compiled-in default
    root: Path | None  # the sid rootfs (chroot, loader)
    datadir: str | None  # Asterisk's stock data (sounds, moh, documentation), as Asterisk sees it
    mounts: tuple[Path, ...] = ()


class AsteriskRunner:
    """Starts and stops one local Asterisk from `config_dir`, driven by `settings`."""

    def __init__(self, settings: AsteriskSettings, config_dir: Path = DEFAULT_CONFIG_DIR) -> None:
        self.settings = settings
        self.config_dir = config_dir.resolve()
        self.run_dir = settings.effective_run_dir.expanduser().resolve()
        self.cache_dir = settings.cache_dir.expanduser().resolve()
        self.rootfs = self.cache_dir / ROOTFS_NAME
        self.sounds_dir = self.cache_dir / "sounds"
        self.pid_file = self.run_dir / "asterisk.pid"
        self.log_dir = self.run_dir / "log"
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ secrets
    @property
    def ami_secret(self) -> str:
        """The AMI secret: CONTACT_ASTERISK_AMI_SECRET, or one generated for this run dir."""
        if self.settings.ami_secret is not None:
            return self.settings.ami_secret.get_secret_value()
        return self._secrets()["ami"]

    def sip_password(self, auth_section: str) -> str:
        """The generated password of an auth-digest section of pjsip.conf (e.g. `op1-auth`)."""
        sip = self._secrets()["sip"]
        if auth_section not in sip:
            raise AsteriskError(f"no auth section {auth_section!r} in pjsip.conf")
        return sip[auth_section]

    def _auth_sections(self) -> list[str]:
        return _AUTH_SECTION.findall((self.config_dir / "pjsip.conf").read_text())

    def _secrets(self) -> _Secrets:
        """Generated once per run directory and kept, so that contact and phones keep working
        across restarts of Asterisk."""
        path = self.run_dir / "secrets.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        sip = {str(k): str(v) for k, v in dict(stored.get("sip") or {}).items()}
        ami = str(stored.get("ami") or "")
        wanted = self._auth_sections()
        if ami and all(name in sip for name in wanted):
            return {"ami": ami, "sip": sip}
        data: _Secrets = {"ami": ami or secrets.token_urlsafe(24), "sip": sip}
        for name in wanted:
            sip.setdefault(name, secrets.token_urlsafe(18))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _write_private(path, json.dumps(data, indent=2) + "\n")
        return data

    # ------------------------------------------------------------------ provisioning
    async def provision(self) -> None:
        """Run scripts/asterisk-rootfs.sh: idempotent, instant once done."""
        if not PROVISION_SCRIPT.is_file():
            raise AsteriskError(f"{PROVISION_SCRIPT} is missing: provision Asterisk by hand")
        env = {
            **os.environ,
            "CONTACT_ASTERISK_CACHE_DIR": str(self.cache_dir),
            "CONTACT_ASTERISK_LAUNCHER": self.settings.launcher,
        }
        # a thread, not an asyncio subprocess: no transport outlives a short-lived event loop
        done = await asyncio.to_thread(subprocess.run, ["bash", str(PROVISION_SCRIPT)], env=env)
        if done.returncode != 0:
            raise AsteriskError(f"provisioning Asterisk failed ({PROVISION_SCRIPT})")

    def _launch(self) -> _Launch:
        kind = self.settings.launcher
        native = shutil.which("asterisk")
        if kind == "auto":
            kind = "native" if native else "chroot" if os.geteuid() == 0 else "loader"
        conf = str(self.run_dir / "asterisk.conf")
        tail = ["-C", conf, "-f", "-n"]
        if kind == "native":
            if native is None:
                raise AsteriskError("no `asterisk` on PATH (CONTACT_ASTERISK_LAUNCHER=native)")
            datadir = next((d for d in _NATIVE_DATADIRS if Path(d, "sounds").is_dir()), None)
            return _Launch(kind, [native, *tail], None, None, datadir)
        if not (self.rootfs / ROOTFS_STAMP).is_file():
            raise AsteriskError(
                f"no Asterisk: neither on PATH nor provisioned in {self.rootfs} "
                f"(run {PROVISION_SCRIPT.name} or `contact asterisk up`)"
            )
        if kind == "chroot":
            if os.geteuid() != 0 or shutil.which("unshare") is None:
                raise AsteriskError("the chroot launcher needs root and unshare(1)")
            mounts = _outermost([self.run_dir, self.config_dir, self.sounds_dir])
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _CHROOT_SH]
            argv += ["sh", str(self.rootfs), *map(str, mounts), "--", _SID_ASTERISK, *tail]
            return _Launch(kind, argv, _SID_MODDIR, self.rootfs, _SID_DATADIR, tuple(mounts))
        root = str(self.rootfs)
        loader = [f"{root}/lib64/ld-linux-x86-64.so.2", "--library-path", root + _SID_LIBDIR]
        return _Launch(
            kind,
            [*loader, root + _SID_ASTERISK, *tail],
            root + _SID_MODDIR,
            self.rootfs,
            root + _resolve_in_root(self.rootfs, _SID_DATADIR),
        )

    # ------------------------------------------------------------------ rendering
    def _render(self, launch: _Launch) -> None:
        run = self.run_dir
        # log/cel-custom: Asterisk's record of the calls it announced (cel_custom.conf)
        for sub in ("lib", "spool", "ctl", "log", "log/cel-custom", "cache"):
            (run / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("etc", "data"):
            shutil.rmtree(run / sub, ignore_errors=True)
        self._render_etc(run / "etc")
        self._render_data(run / "data", launch)
        lines = ["[directories]", f"astetcdir => {run}/etc"]
        if launch.moddir is not None:
            lines.append(f"astmoddir => {launch.moddir}")
        lines += [
            f"astvarlibdir => {run}/lib",
            f"astdbdir => {run}/lib",
            f"astkeydir => {run}/lib",
            f"astdatadir => {run}/data",
            f"astagidir => {run}/data/agi-bin",
            f"astspooldir => {run}/spool",
            f"astrundir => {run}/ctl",
            f"astlogdir => {run}/log",
            f"astcachedir => {run}/cache",
            "",
        ]
        options = (self.config_dir / "asterisk.conf").read_text()
        (run / "asterisk.conf").write_text("\n".join(lines) + "\n" + options)

    def _render_etc(self, etc: Path) -> None:
        s = self.settings
        secret = self.ami_secret
        if _UNSAFE_SECRET.search(secret):
            raise AsteriskError("the AMI secret may not contain spaces, `;`, `[`, `]` or quotes")
        rendered = etc / "rendered"
        rendered.mkdir(parents=True)
        for conf in sorted(self.config_dir.glob("*.conf")):
            if conf.name != "asterisk.conf":
                (etc / conf.name).symlink_to(conf)
        sip = self._secrets()["sip"]
        names = self._auth_sections()
        files = {
            "manager-port.conf": f"port = {s.ami_port}\n",
            "pjsip-udp-bind.conf": f"bind = 127.0.0.1:{s.sip_port}\n",
            "http-port.conf": f"bindport = {s.http_port}\n",
            "rtp-range.conf": f"rtpstart = {s.rtp_start}\nrtpend = {s.rtp_end}\n",
        }
        for name, text in files.items():
            (rendered / name).write_text(text)
        _write_private(
            rendered / "manager-user.conf",
            f"[{s.ami_username}](contact-user)\nsecret = {secret}\n",
        )
        _write_private(
            rendered / "pjsip-secrets.conf",
            # only sections that exist: `(+)` on a missing one fails the whole of pjsip.conf
            "".join(f"[{name}](+)\npassword = {sip[name]}\n\n" for name in names),
        )

    def _render_data(self, data: Path, launch: _Launch) -> None:
        sounds = data / "sounds"
        sounds.mkdir(parents=True)
        if launch.datadir is not None:
            stock = self._host_path(launch, launch.datadir)
            for name in ("documentation", "moh"):
                if (stock / name).exists():
                    (data / name).symlink_to(self._target(launch, f"{launch.datadir}/{name}"))
            if (stock / "sounds").is_dir():
                for entry in sorted((stock / "sounds").iterdir()):
                    target = self._target(launch, f"{launch.datadir}/sounds/{entry.name}")
                    if self._host_path(launch, target).is_dir():
                        (sounds / entry.name).symlink_to(target)
        for rel, src in sorted(self._prompts().items()):
            dest = sounds / rel
            self._materialize(dest.parent, sounds, launch)
            dest.symlink_to(src)

    def _prompts(self) -> dict[str, Path]:
        """Generated prompts, each replaced by a recorded one of the same name and folder."""
        chosen: dict[str, Path] = {}
        recorded_stems: set[str] = set()
        for base, recorded in ((self.config_dir / "sounds", True), (self.sounds_dir, False)):
            if not base.is_dir():
                continue
            for f in sorted(base.rglob("*")):
                if not f.is_file() or f.suffix not in _AUDIO_SUFFIXES:
                    continue
                rel = f.relative_to(base)
                stem = str(rel.with_suffix(""))
                if recorded:
                    recorded_stems.add(stem)
                elif stem in recorded_stems:
                    continue
                chosen[str(rel)] = f
        return chosen

    def _target(self, launch: _Launch, path: str) -> str:
        """`path` as Asterisk sees it, with the rootfs's symlinks resolved."""
        if launch.kind == "native":
            return os.path.realpath(path)
        assert launch.root is not None
        root = str(launch.root)
        if launch.kind == "loader":
            return root + _resolve_in_root(launch.root, path.removeprefix(root))
        return _resolve_in_root(launch.root, path)

    def _materialize(self, directory: Path, top: Path, launch: _Launch) -> None:
        """Make `directory` (under `top`) a real directory, turning a symlinked one (a stock
        language folder) into a directory of symlinks to its entries, so that prompts can be
        added next to stock sounds."""
        for parent in [*reversed(directory.relative_to(top).parents), directory.relative_to(top)]:
            d = top / parent
            if d.is_symlink():
                target = os.readlink(d)
                host = self._host_path(launch, target)
                names = sorted(e.name for e in host.iterdir()) if host.is_dir() else []
                d.unlink()
                d.mkdir()
                for name in names:
                    (d / name).symlink_to(posixpath.join(target, name))
            else:
                d.mkdir(exist_ok=True)

    @staticmethod
    def _host_path(launch: _Launch, path: str) -> Path:
        if launch.kind == "chroot" and launch.root is not None:
            return Path(str(launch.root) + path)
        return Path(path)

    def unavailable(self) -> str | None:
        """Why `up` cannot start Asterisk here as it is (not provisioned, no root for the
        chroot…), in one line; None when it can."""
        try:
            self._launch()
        except AsteriskError as exc:
            return exc.message
        return None

    def running(self) -> bool:
        return self.status().running

    # ------------------------------------------------------------------ life cycle
    async def up(self) -> AsteriskStatus:
        """Render the run directory, start Asterisk and return once it is fully booted."""
        current = self.status()
        if current.running:
            log.info("asterisk already running, pid %s", current.pid)
            return current
        launch = self._launch()
        self._check_ports_free()
        self._render(launch)
        self.pid_file.unlink(missing_ok=True)
        self._proc = self._spawn(launch)
        started = time.monotonic()
        try:
            await self._wait_fully_booted(self._proc)
        except BaseException:
            await self.down()
            raise
        self.pid_file.write_text(f"{self._proc.pid} {launch.kind}\n")
        log.info(
            "asterisk up (%s), pid %s, booted in %.2f s",
            launch.kind,
            self._proc.pid,
            time.monotonic() - started,
        )
        return self.status()

    def _spawn(self, launch: _Launch) -> subprocess.Popen[bytes]:
        """Start Asterisk in its own session (a terminal's Ctrl-C does not reach it); our child,
        so that we reap it: on some machines nothing else does."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.run_dir), "LANG": "C"}
        with (self.log_dir / "console.log").open("ab") as out:
            return subprocess.Popen(
                launch.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                env=env,
                start_new_session=True,
            )

    async def down(self, timeout_s: float = 10.0) -> None:
        """Stop Asterisk: SIGTERM (its own clean, fast shutdown), SIGKILL after `timeout_s`."""
        pid = self._pid()
        if pid is not None and self._alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not await self._gone(pid, timeout_s):
                log.warning("asterisk pid %s ignored SIGTERM for %s s: killing it", pid, timeout_s)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                if not await self._gone(pid, 5.0):
                    raise AsteriskError(f"asterisk pid {pid} does not stop")
        self.pid_file.unlink(missing_ok=True)
        self._proc = None

    async def cli(self, command: str, timeout_s: float = 10.0) -> str:
        """One Asterisk CLI command over the control socket (an operator's tool: contact's AMI
        user may not run commands). In a rootfs, its own binary is the client, via its loader."""
        launch = self._launch()
        conf = str(self.run_dir / "asterisk.conf")
        if launch.root is None:
            argv = [launch.argv[0], "-C", conf, "-rx", command]
        else:
            root = str(launch.root)
            argv = [f"{root}/lib64/ld-linux-x86-64.so.2", "--library-path", root + _SID_LIBDIR]
            argv += [root + _SID_ASTERISK, "-C", conf, "-rx", command]
        try:
            done = await asyncio.to_thread(
                subprocess.run,
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            raise AsteriskError(f"asterisk -rx {command!r} timed out") from None
        out = (done.stdout + done.stderr).decode(errors="replace")
        if done.returncode != 0:
            raise AsteriskError(f"asterisk -rx {command!r} failed: {out}")
        return out

    def status(self) -> AsteriskStatus:
        s = self.settings
        pid = self._pid()
        running = pid is not None and self._alive(pid)
        launcher = None
        if running and self.pid_file.exists():
            launcher = [*self.pid_file.read_text().split(), "?", "?"][1]
        return AsteriskStatus(
            running=running,
            pid=pid if running else None,
            launcher=launcher,
            run_dir=self.run_dir,
            ami=f"{s.ami_host}:{s.ami_port}",
            sip=f"udp:127.0.0.1:{s.sip_port}",
            websocket=f"ws://127.0.0.1:{s.http_port}/ws",
        )

    def _pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid
        try:
            return int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None  # also reaps our own child
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        # a zombie has stopped; another program may have been given a recycled pid
        return stat.rsplit(")", 1)[1].split()[0] != "Z" and b"asterisk" in cmdline

    async def _gone(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._alive(pid):
                return True
            await asyncio.sleep(0.05)
        return not self._alive(pid)

    def _check_ports_free(self) -> None:
        s = self.settings
        checks = [
            (socket.SOCK_STREAM, s.ami_port, "AMI"),
            (socket.SOCK_STREAM, s.http_port, "HTTP"),
            (socket.SOCK_DGRAM, s.sip_port, "SIP"),
        ]
        for kind, port, what in checks:
            with socket.socket(socket.AF_INET, kind) as sock:
                # as Asterisk binds: a port left in TIME_WAIT by the last run is free
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError as exc:
                    raise AsteriskError(
                        f"{what} port 127.0.0.1:{port} is taken (another Asterisk?)"
                    ) from exc

    async def _wait_fully_booted(self, proc: subprocess.Popen[bytes]) -> None:
        """Log in to AMI and wait for FullyBooted (sent at login once booted)."""
        deadline = time.monotonic() + self.settings.boot_timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AsteriskError(
                    f"asterisk exited with status {proc.returncode} while starting",
                    details={"log": self._log_tail()},
                )
            try:
                await asyncio.wait_for(self._ami_login_booted(), deadline - time.monotonic())
                return
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                last_error = exc
                await asyncio.sleep(0.05)
        raise AsteriskError(
            f"asterisk not fully booted after {self.settings.boot_timeout_s} s ({last_error!r})",
            details={"log": self._log_tail()},
        )

    async def _ami_login_booted(self) -> None:
        s = self.settings
        reader, writer = await asyncio.open_connection(s.ami_host, s.ami_port)
        try:
            await reader.readline()  # banner: Asterisk Call Manager/x.y
            writer.write(
                (
                    "Action: Login\r\n"
                    f"Username: {s.ami_username}\r\nSecret: {self.ami_secret}\r\n"
                    "Events: system\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode(errors="replace")
                if block.startswith("Response: Error"):
                    raise AsteriskError(f"AMI login refused: {block.strip()}")
                if "Event: FullyBooted" in block:
                    break
            writer.write(b"Action: Logoff\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _log_tail(self, lines: int = 30) -> str:
        tail: list[str] = []
        for name in ("console.log", "messages.log"):
            path = self.log_dir / name
            if path.exists():
                tail += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(tail)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _outermost(paths: list[Path]) -> list[Path]:
    """The paths to bind-mount: none inside another (its parent's mount already shows it)."""
    out: list[Path] = []
    for p in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(p.is_relative_to(q) for q in out):
            p.mkdir(parents=True, exist_ok=True)
            out.append(p)
    return out


def _resolve_in_root(root: Path, path: str, depth: int = 0) -> str:
    """`path` inside `root` with its symlinks resolved as if `root` were `/`."""
    if depth > 40:
        raise AsteriskError(f"symlink loop at {path} in {root}")
    current = "/"
    for part in Path(posixpath.normpath(path)).parts[1:]:
        candidate = posixpath.join(current, part)
        host = Path(str(root) + candidate)
        if host.is_symlink():
            target = os.readlink(host)
            if not target.startswith("/"):
                target = posixpath.normpath(posixpath.join(current, target))
            current = _resolve_in_root(root, target, depth + 1)
        else:
            current = candidate
    return current
