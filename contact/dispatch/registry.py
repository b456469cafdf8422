"""Registering units, importing cameras and districts: what `contact units|cameras|districts`
and the demo do, on the repository (no HTTP)."""

from __future__ import annotations

import csv
import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contact.address_guard import RefusedAddress, check_camera_url
from contact.dispatch.cameras import Camera
from contact.dispatch.districts import District, load_districts
from contact.dispatch.model import DistrictRecord, UnitRecord
from contact.dispatch.ports import DispatchRepository
from contact.dispatch.units import UnitKind, UnitStatus
from contact.domain.model import new_id
from contact.errors import Unprocessable


def new_token() -> str:
    """A unit's API token: 256 random bits, shown once; only its sha256 is stored."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewUnit:
    callsign: str
    kind: UnitKind
    district_id: str | None = None
    department: str | None = None
    crew: tuple[str, ...] = ()


def check_unit(unit: NewUnit) -> None:
    if not unit.callsign.strip() or len(unit.callsign) > 40:
        raise Unprocessable("a call sign is 1-40 characters", error_id="invalid_callsign")


async def add_unit(
    repo: DispatchRepository, unit: NewUnit, *, unit_id: str | None = None
) -> tuple[UnitRecord, str]:
    """Register a unit (available, no position yet); returns it and its token."""
    check_unit(unit)
    token = new_token()
    record = UnitRecord(
        id=unit_id or new_id(),
        callsign=unit.callsign.strip(),
        kind=unit.kind,
        status=UnitStatus.AVAILABLE,
        status_at=datetime.now(UTC),
        district_id=unit.district_id,
        department=unit.department,
        crew=unit.crew,
    )
    await repo.add_unit(record, token_hash(token))
    return record, token


async def rotate_token(repo: DispatchRepository, unit_id: str) -> str:
    token = new_token()
    await repo.set_unit_token(unit_id, token_hash(token))
    return token


UNIT_COLUMNS = ("callsign", "kind", "district", "department", "crew")


@dataclass
class UnitFile:
    units: list[NewUnit]
    errors: list[tuple[int, str]]


def read_units_csv(path: str | Path) -> UnitFile:
    """callsign,kind[,district][,department][,crew] (crew: names separated by `;` or `|`)."""
    units: list[NewUnit] = []
    errors: list[tuple[int, str]] = []
    with Path(path).open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        missing = [c for c in ("callsign", "kind") if c not in header]
        if missing:
            return UnitFile([], [(1, f"missing column(s): {', '.join(missing)}")])
        reader.fieldnames = header
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            callsign = (row.get("callsign") or "").strip()
            try:
                kind = UnitKind((row.get("kind") or "").strip().lower())
            except ValueError:
                errors.append((line, f"kind must be car, foot or bike: {row.get('kind')!r}"))
                continue
            if not callsign:
                errors.append((line, "callsign is empty"))
                continue
            if callsign in seen:
                errors.append(
                    (line, f"duplicate callsign {callsign!r} (first on {seen[callsign]})")
                )
                continue
            seen[callsign] = line
            crew = (row.get("crew") or "").replace("|", ";")
            units.append(
                NewUnit(
                    callsign=callsign,
                    kind=kind,
                    district_id=(row.get("district") or "").strip() or None,
                    department=(row.get("department") or "").strip() or None,
                    crew=tuple(n.strip() for n in crew.split(";") if n.strip()),
                )
            )
    return UnitFile(units, errors)


async def import_cameras_into(
    repo: DispatchRepository,
    cameras: Sequence[Camera],
    *,
    replace_all: bool = False,
    progress: Callable[[int], None] | None = None,
    allow_loopback: bool = False,
) -> int:
    """Store cameras; Unprocessable (nothing stored) when a URL names an address the server
    must not reach (address_guard.py)."""
    refused = []
    for camera in cameras:
        for url in (camera.stream_url, camera.snapshot_url):
            try:
                if url is not None:
                    check_camera_url(url, allow_loopback)
            except RefusedAddress as exc:
                refused.append(f"{camera.id}: {exc}")
    if refused:
        raise Unprocessable(
            f"{len(refused)} camera URL(s) refused: {'; '.join(refused[:5])}",
            error_id="camera_address_refused",
        )
    return await repo.import_cameras(
        cameras, datetime.now(UTC), replace_all=replace_all, progress=progress
    )


def district_records(data: Any) -> list[DistrictRecord]:
    """Validate a districts FeatureCollection completely (DistrictDataError on any fault)
    and keep each feature's geometry as given."""
    districts: list[District] = load_districts(data)
    features = data["features"]
    return [
        DistrictRecord(
            id=d.id,
            name_kk=d.name_kk,
            name_ru=d.name_ru,
            department=d.department,
            geometry=dict(f["geometry"]),
            position=i,
            name_en=d.name_en,
        )
        for i, (d, f) in enumerate(zip(districts, features, strict=True))
    ]


async def import_districts_into(repo: DispatchRepository, data: Any) -> list[DistrictRecord]:
    records = district_records(data)
    await repo.replace_districts(records, datetime.now(UTC))
    return records


def unit_lines(units: Iterable[tuple[UnitRecord, str]]) -> list[str]:
    """CSV lines `callsign,unit_id,token` to hand tokens to the units' devices."""
    return ["callsign,unit_id,token", *(f"{u.callsign},{u.id},{t}" for u, t in units)]


__all__ = [
    "UNIT_COLUMNS",
    "NewUnit",
    "UnitFile",
    "add_unit",
    "district_records",
    "import_cameras_into",
    "import_districts_into",
    "read_units_csv",
    "rotate_token",
    "token_hash",
    "unit_lines",
]
