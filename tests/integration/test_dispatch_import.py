"""`contact cameras import`, `contact districts import`, `contact units add|import` as a user
runs them: malformed files give a clear report and never a half-imported table."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from contact.config import DatabaseSettings
from contact.dispatch.camera_import import COLUMNS
from contact.dispatch.demo_city import generate_city
from contact.dispatch.sql import SqlDispatchRepository
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db",
        "CONTACT_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),  # this checkout, whatever the venv was installed from
        "COLUMNS": "120",
    }
    exe = str(Path(sys.executable).with_name("contact"))
    return subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def stored(tmp_path: Path, what: str) -> Any:
    url = f"sqlite+aiosqlite:///{tmp_path}/c.db"

    async def read() -> Any:
        await upgrade(url)  # a refused file never opened the database
        db = await SqlDatabase.open(DatabaseSettings(url=url))
        try:
            return await getattr(SqlDispatchRepository(db.store), what)()
        finally:
            await db.close()

    return asyncio.run(read())


GOOD = "CAM-{n},43.2{n},76.9{n},90,60,100,rtsp://cam/{n},https://cam/{n}.jpg,almaly\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_wrong_columns_import_nothing(tmp_path: Path) -> None:
    f = write(tmp_path / "c.csv", "name,latitude,longitude\nA,43.2,76.9\n")
    done = cli(tmp_path, "cameras", "import", str(f), "--no-progress")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "missing column(s): id, heading, fov, range, stream_url" in done.stdout
    assert "nothing imported" in done.stdout
    assert stored(tmp_path, "cameras") == []


def test_bad_rows_are_reported_by_line_and_the_rest_imported(tmp_path: Path) -> None:
    lines = [",".join(COLUMNS) + "\n"]
    lines += [GOOD.format(n=n) for n in range(1, 4)]  # lines 2-4
    lines.append("CAM-9,forty,76.9,90,60,100,rtsp://cam/9,,\n")  # line 5: bad number
    lines.append("CAM-1,43.21,76.91,90,60,100,rtsp://cam/1b,,\n")  # line 6: duplicate id
    lines.append("CAM-8,43.2,76.9,400,60,100,rtsp://cam/8,,\n")  # line 7: heading out of range
    lines.append("CAM-7,43.2,76.9,90,60\n")  # line 8: too few fields
    f = write(tmp_path / "c.csv", "".join(lines))
    errors = tmp_path / "errors.csv"
    done = cli(tmp_path, "cameras", "import", str(f), "--no-progress", "--errors", str(errors))
    assert done.returncode == 3, done.stdout + done.stderr
    out = done.stdout
    assert "7 rows, 3 valid, 4 refused" in out
    assert "line 5 (camera CAM-9): lat is not a number: 'forty'" in out
    assert "line 6 (camera CAM-1): duplicate id 'CAM-1' (first on line 2)" in out
    assert "line 7 (camera CAM-8): heading must be within 0..360" in out
    assert "line 8 (camera CAM-7): expected 9 fields, found 5" in out
    assert "imported 3 cameras in one transaction" in out
    assert [c.id for c in stored(tmp_path, "cameras")] == ["CAM-1", "CAM-2", "CAM-3"]
    assert len(errors.read_text().splitlines()) == 5  # header + 4

    strict = cli(tmp_path, "cameras", "import", str(f), "--no-progress", "--strict", "--replace")
    assert strict.returncode == 3 and "nothing imported" in strict.stdout
    assert len(stored(tmp_path, "cameras")) == 3  # untouched


def test_geojson_file_level_problem_imports_nothing(tmp_path: Path) -> None:
    f = write(tmp_path / "c.geojson", json.dumps({"type": "Feature", "features": []}))
    done = cli(tmp_path, "cameras", "import", str(f), "--no-progress")
    assert done.returncode == 1 and "FeatureCollection" in done.stdout
    broken = write(tmp_path / "b.geojson", '{"type": "FeatureCollection", "features": [')
    done = cli(tmp_path, "cameras", "import", str(broken), "--no-progress")
    assert done.returncode == 1 and "not valid JSON" in done.stdout
    assert stored(tmp_path, "cameras") == []


def test_a_city_of_cameras_and_districts(tmp_path: Path) -> None:
    city = generate_city(seed=5, cameras=20_000, units=0)
    csv_file = tmp_path / "city.csv"
    city.write_cameras_csv(csv_file)
    done = cli(tmp_path, "cameras", "import", str(csv_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported 20000 cameras" in done.stdout
    assert "100%" in done.stdout  # the progress bar ran to the end
    districts = write(tmp_path / "d.geojson", json.dumps(city.districts_geojson))
    done = cli(tmp_path, "districts", "import", str(districts))
    assert done.returncode == 0 and "7 districts imported" in done.stdout
    # a district file with one bad polygon is refused whole; the old districts stay
    bad = json.loads(json.dumps(city.districts_geojson))
    bad["features"][3]["geometry"]["coordinates"][0].pop()  # the ring is no longer closed
    done = cli(tmp_path, "districts", "import", str(write(tmp_path / "x.geojson", json.dumps(bad))))
    assert (
        done.returncode == 1 and "not closed" in done.stdout and "nothing imported" in done.stdout
    )
    assert len(stored(tmp_path, "districts")) == 7


def test_units_add_and_import_print_tokens_once(tmp_path: Path) -> None:
    done = cli(tmp_path, "units", "add", "ALM-01", "--kind", "car", "--crew", "Серик;Иван")
    assert done.returncode == 0, done.stderr
    header, line = done.stdout.strip().splitlines()
    assert header == "callsign,unit_id,token"
    callsign, _, token = line.split(",")
    assert callsign == "ALM-01" and len(token) >= 40
    again = cli(tmp_path, "units", "add", "ALM-01")
    assert again.returncode == 1 and "ALM-01" in again.stdout
    f = write(tmp_path / "u.csv", "callsign,kind,district,crew\nB-1,foot,almaly,A;B\nB-2,bike,,\n")
    done = cli(tmp_path, "units", "import", str(f))
    assert done.returncode == 0 and len(done.stdout.strip().splitlines()) == 3
    bad = write(tmp_path / "v.csv", "callsign,kind\nC-1,tank\nC-1,car\nC-1,car\n")
    done = cli(tmp_path, "units", "import", str(bad))
    assert done.returncode == 1
    assert "line 2: kind must be car, foot or bike" in done.stderr
    assert "line 4: duplicate callsign 'C-1'" in done.stderr
    units = stored(tmp_path, "units")
    assert [u.callsign for u in units] == ["ALM-01", "B-1", "B-2"]
    assert units[0].crew == ("Серик", "Иван")
    listed = cli(tmp_path, "units", "list")
    assert "ALM-01" in listed.stdout and "available" in listed.stdout
    rotated = cli(tmp_path, "units", "token", "ALM-01")
    assert rotated.returncode == 0 and token not in rotated.stdout
