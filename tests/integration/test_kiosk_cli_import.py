"""`contact kiosks import|list|key` and `contact sites import|list|rotate-key` as a user runs
them: CSV and GeoJSON, all or nothing, errors with their line numbers, generated keys."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.integration.device_support import CHECKOUT_ENV
from tests.support import ServeProcess


def contact(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("contact"))
    return subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def env_for(tmp_path: Path) -> dict[str, str]:
    node = ServeProcess(
        {"CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/contact.db", **CHECKOUT_ENV},
        tmp_path / "serve.log",
    )
    return dict(node.env)


KIOSKS_CSV = """id,name,lat,lon,partner,address,sip_account,camera_id
park-01,Парк Горького вход,43.2567,76.9286,Parks of Almaty,"ул. Гоголя, 1",kiosk-park-01,cam-park-01
atm-07,Halyk ATM Абая,43.2401,76.9455,Halyk Bank,,,cam-atm-07
"""


def test_kiosks_import_list_and_keys(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    source = tmp_path / "kiosks.csv"
    source.write_text(KIOSKS_CSV)
    keys = tmp_path / "keys.csv"
    done = contact(env, "kiosks", "import", str(source), "--keys-out", str(keys))
    assert done.returncode == 0, done.stderr
    assert "2 added" in done.stdout
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600
    rows = list(csv.DictReader(keys.open()))
    assert sorted(r["id"] for r in rows) == ["atm-07", "park-01"]
    shown = contact(env, "kiosks", "key", "park-01")
    assert shown.returncode == 0
    assert shown.stdout.strip() == next(r["key"] for r in rows if r["id"] == "park-01")
    listing = contact(env, "kiosks", "list").stdout
    assert "park-01" in listing and "unknown" in listing
    # updating keeps keys; a GeoJSON file works the same
    geo = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "park-01",
                "geometry": {"type": "Point", "coordinates": [76.93, 43.26]},
                "properties": {"name": "Парк Горького, главный вход"},
            }
        ],
    }
    (tmp_path / "k.geojson").write_text(json.dumps(geo))
    done = contact(env, "kiosks", "import", str(tmp_path / "k.geojson"))
    assert done.returncode == 0 and "1 updated" in done.stdout, done.stderr
    assert contact(env, "kiosks", "key", "park-01").stdout == shown.stdout
    rotated = contact(env, "kiosks", "key", "park-01", "--rotate")
    assert rotated.returncode == 0 and rotated.stdout != shown.stdout
    assert contact(env, "kiosks", "key", "nope").returncode == 1


def test_a_bad_file_imports_nothing_and_names_every_line(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id;name;lat;lon\n"
        "ok-1;Fine;43.2;76.9\n"
        "bad id;Spaces;43.2;76.9\n"
        "ok-2;;43.2;76.9\n"
        "ok-3;Far;143.2;76.9\n"
        "ok-1;Again;43.2;76.9\n"
    )
    done = contact(env, "kiosks", "import", str(bad))
    assert done.returncode == 1
    for line in (3, 4, 5, 6):
        assert f"line {line}:" in done.stderr, done.stderr
    assert "line 2:" not in done.stderr
    assert "nothing was imported" in done.stderr
    assert contact(env, "kiosks", "list").stdout == ""
    assert contact(env, "kiosks", "import", str(tmp_path / "missing.csv")).returncode == 2


def test_sites_import_needs_a_place_for_generated_keys(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    source = tmp_path / "sites.csv"
    source.write_text(
        "site_id,name,type,lat,lon,address,cameras\n"
        'school-12,Школа №12,school,43.2389,76.8897,"Самал-2, 5",cam-s12-gate;cam-s12-hall\n'
    )
    refused = contact(env, "sites", "import", str(source))
    assert refused.returncode == 2 and "--keys-out" in refused.stderr
    assert contact(env, "sites", "list").stdout == ""
    keys = tmp_path / "site-keys.csv"
    done = contact(env, "sites", "import", str(source), "--keys-out", str(keys))
    assert done.returncode == 0, done.stderr
    assert "school-12" in keys.read_text()
    assert "2 camera(s)" in contact(env, "sites", "list").stdout
    rotated = contact(env, "sites", "rotate-key", "school-12")
    assert rotated.returncode == 0 and len(rotated.stdout.strip()) == 64
    assert contact(env, "sites", "rotate-key", "nope").returncode == 1
