"""docker-compose.yml and its images (docker/), checked as files, with no Docker daemon: the
services, loopback-only management interfaces, no secret in the file, the run directory shared
by Asterisk and contact, and Dockerfiles that build from this repository's own files
(asterisk-config/ is the single source of Asterisk's configuration)."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILES = [REPO / "docker" / "contact.Dockerfile", REPO / "docker" / "asterisk.Dockerfile"]
SECRETS = {"POSTGRES_PASSWORD": "pg-secret-0001", "REDIS_PASSWORD": "redis-secret-0002"}

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ is a literal $
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_REQUIRED = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}$")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEYS|AUTH", re.IGNORECASE)


def _raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution, as `docker compose config` does it."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.groups()
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op is not None and op.endswith("?") and unset:
            raise LookupError(name)
        if op is not None and op.endswith("-") and unset:
            return str(arg)
        return current or ""

    return _REFERENCE.sub(one, value)


def _compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    data = _interpolate(_raw(), SECRETS if env is None else env)
    assert isinstance(data, dict)
    return data


def _services(env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    services = _compose(env)["services"]
    assert isinstance(services, dict)
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _argv(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def _option(argv: list[str], name: str) -> str:
    """The value of `--name value` (redis-server) or `-c name=value` (postgres)."""
    for i, arg in enumerate(argv):
        if arg == f"--{name}":
            return argv[i + 1]
        if arg == "-c" and argv[i + 1].startswith(f"{name}="):
            return argv[i + 1].split("=", 1)[1]
    raise AssertionError(f"no {name} in {argv}")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _copies(dockerfile: Path) -> list[tuple[dict[str, str], list[str], str]]:
    """Every COPY/ADD: (flags, sources, destination)."""
    found = []
    for word, rest in _instructions(dockerfile):
        if word not in {"COPY", "ADD"}:
            continue
        parts = shlex.split(rest)
        flags = {}
        while parts[0].startswith("--"):
            key, _, value = parts.pop(0)[2:].partition("=")
            flags[key] = value
        if parts[0].startswith("["):
            parts = json.loads(" ".join(parts))
        found.append((flags, parts[:-1], parts[-1]))
    return found


def _dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    path = path.strip("/").removeprefix("./")
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        p = pattern.lstrip("!").strip("/").replace("**/", "")
        if path == p or path.startswith(p + "/") or fnmatch.fnmatch(path, p):
            ignored = not negated
    return ignored


# ------------------------------------------------------------------ services


def test_the_four_services_and_the_migration() -> None:
    services = _services()
    assert {"asterisk", "redis", "postgres", "contact"} <= set(services)
    for name in ("asterisk", "redis", "postgres", "contact"):
        assert services[name]["restart"] == "unless-stopped", name
    migrate = services["migrate"]
    assert _argv(migrate["command"]) == ["contact", "db", "upgrade"]
    assert migrate["build"] == services["contact"]["build"]  # the contact image
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert _argv(services["contact"]["command"]) == ["contact", "serve"]


def test_every_service_is_on_the_host_network_and_publishes_nothing() -> None:
    # the host network for Asterisk's SIP port and RTP range; the others then reach each
    # other on 127.0.0.1, and a published port would only bypass the loopback bindings
    for name, service in _services().items():
        assert service.get("network_mode") == "host", name
        assert "ports" not in service, name
        assert "networks" not in service, name


def test_redis_and_postgres_listen_on_loopback_only() -> None:
    services = _services()
    redis_argv = _argv(services["redis"]["command"])
    assert redis_argv.count("--bind") == 1
    assert _option(redis_argv, "bind") == "127.0.0.1"
    postgres_argv = _argv(services["postgres"]["command"])
    assert _option(postgres_argv, "listen_addresses") in {"localhost", "127.0.0.1"}


def test_asterisk_runs_the_repository_asterisk_config() -> None:
    asterisk = _services()["asterisk"]
    build = asterisk["build"]
    assert (REPO / build["context"]).resolve() == REPO
    assert (REPO / build["dockerfile"]).resolve() == REPO / "docker" / "asterisk.Dockerfile"
    assert _environment(asterisk)["CONTACT_ASTERISK_LAUNCHER"] == "native"
    # the image's copy of asterisk-config/ is what runs: nothing mounted over it
    targets = [str(v).split(":")[1] for v in asterisk.get("volumes", [])]
    assert not [t for t in targets if t.startswith("/app")]

    dockerfile = REPO / "docker" / "asterisk.Dockerfile"
    copied = {dest: sources for flags, sources, dest in _copies(dockerfile) if "from" not in flags}
    config_dest = next(d for d, s in copied.items() if s == ["asterisk-config/"])
    workdir = next(r for w, r in _instructions(dockerfile) if w == "WORKDIR")
    config_dir = str(Path(workdir) / config_dest)
    entrypoint = (REPO / "docker" / "asterisk-entrypoint.sh").read_text()
    assert f'config_dir="${{CONTACT_ASTERISK_CONFIG_DIR:-{config_dir}}}"' in entrypoint
    assert 'contact asterisk up --config-dir "$config_dir"' in entrypoint
    assert 'contact asterisk down --config-dir "$config_dir"' in entrypoint
    # the contact package sits in place next to the config (the runner's DEFAULT_CONFIG_DIR
    # and provisioning script are found next to contact/)
    assert any(
        w == "RUN" and "pip install" in r and "-e ." in r for w, r in _instructions(dockerfile)
    )
    assert copied["contact/"] == ["contact/"] and copied["scripts/"] == [
        "scripts/asterisk-rootfs.sh"
    ]


def test_asterisk_image_installs_what_the_rootfs_script_installs() -> None:
    script = (REPO / "scripts" / "asterisk-rootfs.sh").read_text()
    packages = re.search(r'^PACKAGES="([^"]+)"', script, re.MULTILINE)
    assert packages is not None
    dockerfile = REPO / "docker" / "asterisk.Dockerfile"
    installs = " ".join(r for w, r in _instructions(dockerfile) if w == "RUN" and "apt-get" in r)
    words = set(installs.split())
    # the Asterisk of the rootfs, and what the script itself needs with a native asterisk
    wanted = {*packages.group(1).split(","), "espeak-ng", "sox", "sip-tester", "python3"}
    assert wanted <= words, wanted - words
    assert next(r for w, r in _instructions(dockerfile) if w == "FROM").startswith("debian:sid")


def test_no_secret_is_hard_coded() -> None:
    raw = _raw()
    for name, service in raw["services"].items():
        for key, value in _environment(service).items():
            if _SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[^}]+\}", value), f"{name}: {key} is not a reference"
    redis_argv = _argv(raw["services"]["redis"]["command"])
    assert _REQUIRED.match(_option(redis_argv, "requirepass"))
    assert _REQUIRED.match(_environment(raw["services"]["postgres"])["POSTGRES_PASSWORD"])
    # a password inside a URL (user:password@host) too
    with_userinfo = [re.match(r"^[a-z][a-z0-9+.-]*://(.*)@[^@]*$", s) for s in _strings(raw)]
    userinfos = {m.group(0): m.group(1) for m in with_userinfo if m is not None}
    env = _environment(raw["services"]["contact"])
    assert {env["CONTACT_DATABASE_URL"], env["CONTACT_REDIS_URL"]} <= set(userinfos)
    for url, userinfo in userinfos.items():
        assert _REQUIRED.match(userinfo.split(":", 1)[1]), url


def test_compose_refuses_to_start_without_the_passwords() -> None:
    for missing in SECRETS:
        with pytest.raises(LookupError, match=missing):
            _compose({k: v for k, v in SECRETS.items() if k != missing})
    _compose(SECRETS)  # and needs nothing else


def test_contact_points_at_postgres_and_redis() -> None:
    services = _services()
    postgres, redis = services["postgres"], services["redis"]
    pg_env = _environment(postgres)
    pg_port = int(_option(_argv(postgres["command"]), "port"))
    redis_argv = _argv(redis["command"])
    for name in ("contact", "migrate"):
        env = _environment(services[name])
        db = urlsplit(env["CONTACT_DATABASE_URL"])
        assert db.scheme in {"postgresql", "postgres", "postgresql+asyncpg"}
        # on the host network postgres is 127.0.0.1 at the port it was told
        assert (db.hostname, db.port) == ("127.0.0.1", pg_port)
        assert db.username == pg_env["POSTGRES_USER"]
        assert db.password == pg_env["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
        assert db.path == "/" + pg_env["POSTGRES_DB"]
        r = urlsplit(env["CONTACT_REDIS_URL"])
        assert r.scheme == "redis"
        assert (r.hostname, r.port) == (
            _option(redis_argv, "bind"),
            int(_option(redis_argv, "port")),
        )
        assert r.password == _option(redis_argv, "requirepass") == SECRETS["REDIS_PASSWORD"]


def test_contact_waits_for_healthy_services() -> None:
    services = _services()
    depends = services["contact"]["depends_on"]
    for name in ("postgres", "redis", "asterisk"):
        assert depends[name]["condition"] == "service_healthy", name
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    checks = {
        n: " ".join(_argv(services[n]["healthcheck"]["test"])) for n in services if n != "migrate"
    }
    assert "pg_isready" in checks["postgres"]
    assert "redis-cli" in checks["redis"] and "ping" in checks["redis"]
    assert "contact asterisk status" in checks["asterisk"]
    assert "/healthz" in checks["contact"]


def test_the_run_directory_is_shared_at_the_same_path() -> None:
    services = _services()
    volumes = _compose()["volumes"]

    def mount(service: str) -> tuple[str, str]:
        env = _environment(services[service])
        run_dir = env["CONTACT_ASTERISK_RUN_DIR"]
        for spec in services[service]["volumes"]:
            source, target = str(spec).split(":")[:2]
            if target == run_dir:
                return source, target
        raise AssertionError(f"{service}: nothing mounted at {run_dir}")

    asterisk, contact = mount("asterisk"), mount("contact")
    assert asterisk == contact
    assert asterisk[0] in volumes  # a named volume, not a directory of this checkout
    assert "postgres-data" in volumes and "contact-data" in volumes
    # secrets.json is 0600: both images run as the same uid
    uids = set()
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        uid = re.search(r"^ARG CONTACT_UID=(\d+)$", text, re.MULTILINE)
        assert uid is not None and '--uid "$CONTACT_UID"' in text, dockerfile.name
        assert re.search(r"^USER contact$", text, re.MULTILINE), dockerfile.name
        uids.add(uid.group(1))
    assert len(uids) == 1


# ------------------------------------------------------------------ images


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copy_sources_exist_in_the_repository(dockerfile: Path) -> None:
    ignored = _dockerignore()
    copies = [(s, f) for f, sources, _ in _copies(dockerfile) for s in sources]
    assert copies
    for source, flags in copies:
        if "from" in flags:
            continue  # from an earlier stage
        assert (REPO / source).exists(), f"{dockerfile.name}: COPY {source}: no such file"
        assert not _ignored(source, ignored), f"{dockerfile.name}: {source} is in .dockerignore"


def test_build_contexts_exclude_what_must_not_reach_an_image() -> None:
    ignored = _dockerignore()
    for path in (".env", ".git", ".venv", "var", "web/node_modules", "web/static/dist"):
        assert _ignored(path, ignored), path
    for name, service in _services().items():
        if "build" in service:
            assert (REPO / service["build"]["context"]).resolve() == REPO, name
            assert (REPO / service["build"]["dockerfile"]).is_file(), name


def test_contact_image_bundles_the_browser_libraries() -> None:
    dockerfile = REPO / "docker" / "contact.Dockerfile"
    steps = _instructions(dockerfile)
    stages = [r for w, r in steps if w == "FROM"]
    assert stages[0].startswith("node:") and stages[0].endswith(" AS web")
    assert stages[-1].startswith("python:3.11-slim")
    runs = [r for w, r in steps if w == "RUN"]
    assert any("npm ci" in r for r in runs) and any("npm run build" in r for r in runs)
    dist = [(f, d) for f, s, d in _copies(dockerfile) if f.get("from") == "web"]
    assert dist == [({"from": "web"}, "web/static/dist/")]
    assert ("CMD", '["contact", "serve"]') in steps
    assert any(w == "RUN" and "-c constraints.txt" in r for w, r in steps)
