"""camera_import: CSV and GeoJSON, good rows in, bad rows reported by line, file-level faults."""

import json
from pathlib import Path
from typing import Any

import pytest

from contact.dispatch import camera_import
from contact.dispatch.camera_import import (
    COLUMNS,
    ImportReport,
    import_cameras,
    parse_cameras_csv,
    parse_cameras_geojson,
    write_cameras_csv,
)
from contact.dispatch.cameras import Camera

HEADER = ",".join(COLUMNS)


def row(
    id: str = "c1",
    lat: str = "43.238",
    lon: str = "76.945",
    heading: str = "90",
    fov: str = "60",
    range_m: str = "100",
    stream: str = "rtsp://cams.example/c1",
    snapshot: str = "https://cams.example/c1.jpg",
    district: str = "almaly",
) -> str:
    return ",".join((id, lat, lon, heading, fov, range_m, stream, snapshot, district))


def csv_report(*lines: str) -> ImportReport:
    return parse_cameras_csv(("\n".join(lines) + "\n").splitlines(keepends=True))


def errors(report: ImportReport) -> list[tuple[int, str | None]]:
    return [(e.line, e.camera_id) for e in report.errors]


def test_good_csv_imports_every_row() -> None:
    report = csv_report(HEADER, row("a"), row("b", snapshot="", district=""))
    assert report.ok and report.rows == 2 and not report.aborted
    a, b = report.cameras
    assert a == Camera(
        "a",
        43.238,
        76.945,
        90,
        60,
        100,
        "rtsp://cams.example/c1",
        "https://cams.example/c1.jpg",
        "almaly",
    )
    assert b.snapshot_url is None and b.district is None


def test_aliases_semicolons_bom_and_optional_columns() -> None:
    text = "\ufeffCamera_ID; Latitude; Longitude; Azimuth; FOV; Range_m; RTSP; extra\nx;43.2;76.9;10;90;50;rtsp://h/x;zz\n"
    report = parse_cameras_csv(text.splitlines(keepends=True))
    assert report.ok, report.errors
    assert report.ignored_columns == ("extra",)
    assert report.cameras[0].id == "x" and report.cameras[0].heading_deg == 10


def test_missing_columns_abort_the_whole_file() -> None:
    report = csv_report("id,lat,lon,heading,stream_url", "a,1,2,3,rtsp://h/a")
    assert report.aborted and report.cameras == []
    [error] = report.errors
    assert error.line == 1 and error.camera_id is None
    assert "missing column(s): fov, range" in error.message


def test_a_file_without_a_header_is_a_file_error() -> None:
    report = csv_report(row("a"), row("b"))
    assert report.aborted and report.cameras == []
    assert "header" in report.errors[0].message


def test_a_repeated_column_is_a_file_error() -> None:
    report = csv_report(HEADER + ",latitude", row("a") + ",1")
    assert report.aborted
    assert "'lat' appears twice" in report.errors[0].message


def test_an_empty_file_is_a_file_error() -> None:
    assert parse_cameras_csv([]).aborted
    assert parse_cameras_csv(["\n"]).aborted


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"lat": "abc"}, "lat is not a number: 'abc'"),
        ({"lat": ""}, "lat is empty"),
        ({"lon": "nan"}, "lon must be a finite number"),
        ({"range_m": "inf"}, "range must be a finite number"),
        ({"lat": "91"}, "lat must be within -90..90"),
        ({"lon": "-180.5"}, "lon must be within -180..180"),
        ({"heading": "361"}, "heading must be within 0..360"),
        ({"heading": "-5"}, "heading must be within 0..360"),
        ({"fov": "0"}, "fov must be within (0, 360]"),
        ({"fov": "400"}, "fov must be within (0, 360]"),
        ({"range_m": "0"}, "range must be within"),
        ({"range_m": "-10"}, "range must be within"),
        ({"stream": "ftp://h/a"}, "stream_url must be an http/https/rtsp/rtsps URL"),
        ({"stream": ""}, "stream_url is empty"),
        ({"snapshot": "file:///etc/passwd"}, "snapshot_url must be an http/https URL"),
        ({"id": ""}, "id is empty"),
    ],
)
def test_bad_values_are_row_errors_and_the_rest_is_imported(
    bad: dict[str, str], message: str
) -> None:
    report = csv_report(HEADER, row("good1"), row(**{"id": "bad", **bad}), row("good2"))
    assert [c.id for c in report.cameras] == ["good1", "good2"]
    [error] = report.errors
    assert error.line == 3
    assert message in error.message
    assert report.rows == 3 and report.error_count == 1 and not report.ok


def test_every_problem_of_a_row_is_reported_together() -> None:
    report = csv_report(HEADER, row("a", lat="x", lon="", heading="nan"))
    assert report.errors[0].message == (
        "lat is not a number: 'x'; lon is empty; heading must be a finite number: 'nan'"
    )


def test_duplicate_ids_are_errors_on_the_later_lines() -> None:
    report = csv_report(HEADER, row("a"), row("b"), row("a", lat="10"), row("c"), row("a"))
    assert [c.id for c in report.cameras] == ["a", "b", "c"]
    assert report.cameras[0].lat == 43.238  # the first one wins
    assert errors(report) == [(4, "a"), (6, "a")]
    assert report.errors[0].message == "duplicate id 'a' (first on line 2)"


def test_wrong_field_counts_blank_lines_and_multiline_fields_keep_line_numbers() -> None:
    report = csv_report(
        HEADER,
        row("a"),
        "",
        "b,1,2",
        row("c", district='"two\nlines"'),
        row("d", lat="x"),
        row("e", district='"quoted, with a comma"'),
    )
    assert [c.id for c in report.cameras] == ["a", "e"]
    assert report.cameras[1].district == "quoted, with a comma"
    assert errors(report) == [(4, "b"), (5, "c"), (7, "d")]
    assert report.errors[0].message == "expected 9 fields, found 3"
    assert report.errors[1].message == "a quoted field runs over lines 5-6"


def test_an_unbalanced_quote_is_reported_with_the_lines_it_swallowed() -> None:
    report = csv_report(HEADER, row("a"), row("b", district='"oops'), row("c"), row("d"))
    assert [c.id for c in report.cameras] == ["a"]
    [error] = report.errors
    assert error.line == 3 and error.camera_id == "b"
    assert error.message == "a quoted field runs over lines 3-5"


def test_all_empty_rows_and_trailing_empty_columns_are_ignored() -> None:
    report = csv_report(HEADER + ",", row("a") + ",", ",,,,,,,,,", row("b") + ",")
    assert report.ok and [c.id for c in report.cameras] == ["a", "b"]
    assert report.ignored_columns == ()


def test_error_list_is_capped_but_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera_import, "MAX_REPORTED_ERRORS", 3)
    report = csv_report(HEADER, *(row(f"c{i}", lat="x") for i in range(10)))
    assert len(report.errors) == 3 and report.error_count == 10


# --- files --------------------------------------------------------------------------------


def test_write_then_import_round_trips(tmp_path: Path) -> None:
    cameras = [
        Camera("a", 43.2380001, 76.9450002, 359.9, 360.0, 40.0, "rtsp://h/a", None, None),
        Camera("b", -33.9, 18.4, 0.0, 1.5, 4999.5, "https://h/b", "http://h/b.jpg", "dist"),
    ]
    path = tmp_path / "cams.csv"
    assert write_cameras_csv(cameras, path) == 2
    report = import_cameras(path)
    assert report.ok and report.cameras == cameras


def test_progress_reaches_the_file_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera_import, "PROGRESS_EVERY", 10)
    path = tmp_path / "cams.csv"
    path.write_text("\n".join([HEADER, *(row(f"c{i}") for i in range(45))]) + "\n")
    calls: list[tuple[int, int]] = []
    report = import_cameras(path, progress=lambda done, total: calls.append((done, total)))
    assert len(report.cameras) == 45
    size = path.stat().st_size
    assert calls[-1] == (size, size)
    assert len(calls) >= 4 and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_invalid_utf8_is_reported_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cams.csv"
    path.write_bytes(
        f"{HEADER}\n{row('a')}\n".encode() + row("b", district="x\xff").encode("latin-1") + b"\n"
    )
    report = import_cameras(path)
    assert [c.id for c in report.cameras] == ["a"]
    assert errors(report) == [(3, "b")] and "UTF-8" in report.errors[0].message


# --- GeoJSON ------------------------------------------------------------------------------


def feature(id: str, **props: object) -> dict[str, Any]:
    properties: dict[str, object] = {
        "heading": 90,
        "fov": 60,
        "range": 100,
        "stream_url": f"rtsp://h/{id}",
        **props,
    }
    return {
        "type": "Feature",
        "id": id,
        "geometry": {"type": "Point", "coordinates": [76.945, 43.238]},
        "properties": properties,
    }


def geojson_text(features: list[dict[str, Any]]) -> str:
    # one feature per line, the usual layout of exported files
    body = ",\n".join(json.dumps(f, ensure_ascii=False) for f in features)
    return '{"type": "FeatureCollection",\n"features": [\n' + body + "\n]}\n"


def test_geojson_imports_points_with_line_numbers_for_bad_features() -> None:
    polygon = feature("poly")
    polygon["geometry"] = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    aliased = feature("c", azimuth=10, fov_deg=90)
    for name in ("heading", "fov"):
        del aliased["properties"][name]
    no_fov = feature("nofov")
    del no_fov["properties"]["fov"]
    report = parse_cameras_geojson(
        geojson_text(
            [
                feature("a", snapshot_url="https://h/a.jpg", district="medeu"),
                polygon,
                no_fov,
                feature("b", heading="45.5", fov=True),
                feature("a"),
                aliased,
                feature("d", azimuth=10),
            ]
        )
    )
    assert [c.id for c in report.cameras] == ["a", "c"]
    assert report.cameras[0].snapshot_url == "https://h/a.jpg"
    assert report.cameras[1].heading_deg == 10
    assert errors(report) == [(4, "poly"), (5, "nofov"), (6, "b"), (7, "a"), (9, "d")]
    messages = [e.message for e in report.errors]
    assert messages[0] == "geometry must be a Point, got 'Polygon'"
    assert messages[1] == "fov is missing"
    assert messages[2] == "fov is not a number: True"
    assert messages[3] == "duplicate id 'a' (first on line 3)"
    assert messages[4] == "'heading' appears twice (as 'heading' and 'azimuth')"


def test_geojson_id_may_be_a_property_and_a_number() -> None:
    f = feature("ignored")
    del f["id"]
    f["properties"]["camera_id"] = 17
    report = parse_cameras_geojson(geojson_text([f]))
    assert report.ok and report.cameras[0].id == "17"


def test_geojson_file_faults_abort() -> None:
    not_a_collection = parse_cameras_geojson('{"type": "Feature", "features": []}')
    assert not_a_collection.aborted and "FeatureCollection" in not_a_collection.errors[0].message
    broken = parse_cameras_geojson('{"type": "FeatureCollection",\n"features": [\n{"type": }]}')
    assert broken.aborted and broken.errors[0].line == 3
    assert "not valid JSON" in broken.errors[0].message
    assert parse_cameras_geojson("[]").aborted
    assert parse_cameras_geojson('{"type": "FeatureCollection", "features": []} x').aborted
    empty = parse_cameras_geojson('{"features": [], "type": "FeatureCollection"}')
    assert not empty.aborted and empty.rows == 0


def test_import_sniffs_geojson_by_content(tmp_path: Path) -> None:
    path = tmp_path / "cams.txt"
    path.write_text(geojson_text([feature("a"), feature("b")]))
    calls: list[tuple[int, int]] = []
    report = import_cameras(path, progress=lambda d, t: calls.append((d, t)))
    assert [c.id for c in report.cameras] == ["a", "b"]
    assert calls[-1][0] == calls[-1][1]
