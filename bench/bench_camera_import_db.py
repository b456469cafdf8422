"""Importing 300,000 cameras into the database, as `contact cameras import` does: check the
CSV, store every row in one transaction, and load the camera index back as a server does at
start. On SQLite (a file) and PostgreSQL. Prints figures; exits 1 on a MISS.

python bench/bench_camera_import_db.py [--cameras 300000] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from contact.config import DatabaseSettings
from contact.dispatch.camera_import import import_cameras
from contact.dispatch.cameras import CameraIndex
from contact.dispatch.demo_city import generate_city
from contact.dispatch.sql import SqlDispatchRepository
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade

TARGET_IMPORT_S = 15.0  # check + store, the whole `contact cameras import`
TARGET_LOAD_S = 10.0  # read back and index at server start

POSTGRES_ADMIN_URL = os.environ.get(
    "CONTACT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def run(url: str, csv_path: Path, label: str) -> bool:
    await upgrade(url)
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    try:
        started = time.perf_counter()
        report = import_cameras(csv_path)
        checked = time.perf_counter() - started
        assert report.ok, report.errors[:3]
        await SqlDispatchRepository(db.store).import_cameras(report.cameras, datetime.now(UTC))
        total = time.perf_counter() - started
        stored = total - checked
        started = time.perf_counter()
        table = await SqlDispatchRepository(db.store).camera_table()
        read = time.perf_counter() - started
        index = CameraIndex(table)
        loaded = time.perf_counter() - started
        ok_import = total <= TARGET_IMPORT_S
        ok_load = loaded <= TARGET_LOAD_S
        n = len(report.cameras)
        print(
            f"  {label:<10} import {total:5.1f} s (check {checked:4.1f} s, store {stored:4.1f} s, "
            f"{n / stored:,.0f} rows/s)  target <= {TARGET_IMPORT_S:g} s "
            f"{'PASS' if ok_import else 'MISS'}"
        )
        print(
            f"  {label:<10} start  {loaded:5.1f} s (read {read:4.1f} s, index "
            f"{loaded - read:4.1f} s, {len(index):,} cameras)  target <= {TARGET_LOAD_S:g} s "
            f"{'PASS' if ok_load else 'MISS'}"
        )
        # a second import of the same file updates every row in place
        started = time.perf_counter()
        await SqlDispatchRepository(db.store).import_cameras(report.cameras, datetime.now(UTC))
        print(
            f"  {label:<10} re-import (upsert of every row) {time.perf_counter() - started:.1f} s"
        )
        return ok_import and ok_load
    finally:
        await db.close()


async def postgres_database(admin_url: str) -> tuple[str, str]:
    name = f"contact_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_url.rsplit("/", 1)[0].split("://", 1)[1]
    return name, f"postgresql+asyncpg://{base}/{name}"


async def drop(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=300_000)
    parser.add_argument("--postgres", default=POSTGRES_ADMIN_URL)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"camera import into the database: {args.cameras:,} cameras, one transaction")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "cameras.csv"
        generate_city(seed=11, cameras=args.cameras, units=0).write_cameras_csv(csv_path)
        print(f"  (CSV {csv_path.stat().st_size / 1e6:.1f} MB)")
        ok = await run(f"sqlite+aiosqlite:///{tmp}/bench.db", csv_path, "SQLite")
        if not args.no_postgres:
            name, url = await postgres_database(args.postgres)
            try:
                ok = await run(url, csv_path, "PostgreSQL") and ok
            finally:
                await drop(args.postgres, name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
