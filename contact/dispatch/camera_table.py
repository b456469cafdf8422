"""Cameras held as columns: what a node keeps in memory for every camera of a country.

One `Camera` object per camera cost about 900 bytes of RSS each (the dataclass, five float
objects, four strings, an id dict entry, the rows they were read from): 1.17 GB for 1.3
million cameras. Here the numbers sit in float64 arrays, each text field in one UTF-8 buffer
with offsets, districts as small integer codes, and the id lookup is a sorted array of id
hashes. A `Camera` object is made only for a camera that an answer names.

Rows come in chunks (`CameraTableBuilder.add`) straight from a database cursor, so a node
never holds a million row objects at once. The numbers the search relies on are checked
here, vectorised; the URLs were checked when the camera was imported (the table is written
only from validated `Camera`s) and are checked again when a `Camera` is made from a row.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from numpy.typing import NDArray

from contact.dispatch.geo import FloatArray

if TYPE_CHECKING:  # cameras.py builds its index on this module: import it lazily here
    from contact.dispatch.cameras import Camera

# (id, lat, lon, heading_deg, fov_deg, range_m, stream_url, snapshot_url, district)
CameraRowTuple = tuple[str, float, float, float, float, float, str, str | None, str | None]

Int64Array = NDArray[np.int64]
Int32Array = NDArray[np.int32]

_NO_DISTRICT = -1


def _id_hash(camera_id: str) -> int:
    """The id lookup's key (a seam for tests: collisions are told apart by the id)."""
    return hash(camera_id)


class _Texts:
    """Many strings in one UTF-8 buffer: string i is buffer[offsets[i]:offsets[i + 1]]."""

    __slots__ = ("_buffer", "_offsets")

    def __init__(self, buffer: bytes, lengths: Int64Array) -> None:
        self._buffer = buffer
        self._offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self._offsets[1:])

    def __getitem__(self, i: int) -> str:
        return self._buffer[self._offsets[i] : self._offsets[i + 1]].decode()

    def many(self, positions: NDArray[np.integer[Any]]) -> list[str]:
        buffer = self._buffer
        starts, ends = self._offsets[positions].tolist(), self._offsets[positions + 1].tolist()
        return [buffer[a:b].decode() for a, b in zip(starts, ends, strict=True)]

    @property
    def nbytes(self) -> int:
        return len(self._buffer) + self._offsets.nbytes


class _Chunk:
    """One batch of rows in column form, before the table is assembled."""

    __slots__ = ("district", "hashes", "ids", "numbers", "snapshot", "stream")

    def __init__(self, rows: Sequence[Sequence[Any]], districts: dict[str | None, int]) -> None:
        n = len(rows)
        ids, lat, lon, heading, fov, range_m, stream, snapshot, district = zip(*rows, strict=True)
        _check_ids(ids)
        self.numbers = np.array((lat, lon, heading, fov, range_m), dtype=np.float64)
        _check_numbers(self.numbers, ids)
        self.hashes = np.fromiter(map(_id_hash, ids), np.int64, n)
        self.ids = _encoded(ids)
        self.stream = _encoded(stream)
        self.snapshot = _encoded([s or "" for s in snapshot])  # "" is never a valid URL: None
        for name in set(district).difference(districts):
            districts[name] = len(districts) - 1  # the codes of names: 0, 1, … (None is -1)
        self.district = np.fromiter(map(districts.__getitem__, district), np.int32, n)


class CameraTableBuilder:
    """Collects rows chunk by chunk (e.g. as a database cursor yields them)."""

    def __init__(self) -> None:
        self._chunks: list[_Chunk] = []
        self._districts: dict[str | None, int] = {None: _NO_DISTRICT}

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        """`rows` of `CameraRowTuple`s (or database rows of the same columns)."""
        if rows:
            self._chunks.append(_Chunk(rows, self._districts))

    def add_cameras(self, cameras: Iterable[Camera]) -> None:
        self.add([_row(c) for c in cameras])

    def build(self) -> CameraTable:
        chunks, self._chunks = self._chunks, []
        if not chunks:
            empty = _Texts(b"", np.empty(0, dtype=np.int64))
            return CameraTable(np.empty((5, 0)), empty, empty, empty, _i32(), ())
        numbers = np.concatenate([c.numbers for c in chunks], axis=1)
        texts = [
            _Texts(b"".join(c.buffer for c in parts), np.concatenate([c.lengths for c in parts]))
            for parts in (
                [c.ids for c in chunks],
                [c.stream for c in chunks],
                [c.snapshot for c in chunks],
            )
        ]
        district = np.concatenate([c.district for c in chunks])
        hashes = np.concatenate([c.hashes for c in chunks])
        del chunks
        codes = self._districts
        names = tuple(n for n in sorted(codes, key=codes.__getitem__) if n is not None)
        return CameraTable(numbers, texts[0], texts[1], texts[2], district, names, hashes)


class CameraTable(Sequence["Camera"]):
    """Immutable columns of many cameras; `table[i]` makes the i-th `Camera`."""

    def __init__(
        self,
        numbers: FloatArray,
        ids: _Texts,
        stream: _Texts,
        snapshot: _Texts,
        district: Int32Array,
        district_names: tuple[str, ...],
        hashes: Int64Array | None = None,
    ) -> None:
        self.lat, self.lon, heading, self.fov, self.range_m = (
            np.ascontiguousarray(column) for column in numbers
        )
        self.heading = np.where(heading == 360.0, 0.0, heading)  # as Camera normalises it
        self._ids, self._stream, self._snapshot = ids, stream, snapshot
        self._district, self._district_names = district, district_names
        n = len(self.lat)
        if hashes is None:
            hashes = np.fromiter((_id_hash(ids[i]) for i in range(n)), np.int64, n)
        # the id lookup: hashes sorted, and for each the camera it belongs to
        order = np.argsort(hashes, kind="stable")
        self._hash_sorted = hashes[order]
        self._hash_order = order.astype(np.int32)
        self._check_unique()
        for column in (self.lat, self.lon, self.heading, self.fov, self.range_m):
            column.flags.writeable = False

    @classmethod
    def from_cameras(cls, cameras: Iterable[Camera]) -> CameraTable:
        builder = CameraTableBuilder()
        builder.add_cameras(cameras)
        return builder.build()

    def __len__(self) -> int:
        return len(self.lat)

    @overload
    def __getitem__(self, i: int) -> Camera: ...
    @overload
    def __getitem__(self, i: slice) -> list[Camera]: ...
    def __getitem__(self, i: int | slice) -> Camera | list[Camera]:
        if isinstance(i, slice):
            return self.cameras_at(np.arange(*i.indices(len(self))))
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._camera(i % len(self))

    def __iter__(self) -> Iterator[Camera]:
        for start in range(0, len(self), 10_000):
            yield from self[start : start + 10_000]

    def id_at(self, i: int) -> str:
        return self._ids[i]

    def find(self, camera_id: str) -> int | None:
        """The position of the camera with this id, or None."""
        h = _id_hash(camera_id)
        j = int(np.searchsorted(self._hash_sorted, h))
        while j < len(self._hash_sorted) and self._hash_sorted[j] == h:
            i = int(self._hash_order[j])
            if self._ids[i] == camera_id:
                return i
            j += 1
        return None

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns (what a node's memory grows by per camera, before the
        spatial index)."""
        arrays: tuple[Any, ...] = (
            self.lat,
            self.lon,
            self.heading,
            self.fov,
            self.range_m,
            self._district,
            self._hash_sorted,
            self._hash_order,
        )
        texts = self._ids.nbytes + self._stream.nbytes + self._snapshot.nbytes
        return int(sum(a.nbytes for a in arrays)) + texts

    def _camera(self, i: int) -> Camera:
        return self.cameras_at(np.array([i]))[0]

    def cameras_at(self, positions: NDArray[np.integer[Any]]) -> list[Camera]:
        """The cameras at these positions, each field gathered for all of them at once (an
        answer names a dozen cameras: this is most of its cost after the search)."""
        from contact.dispatch.cameras import Camera  # lazily: see the imports

        names = self._district_names
        return [
            Camera(
                id=camera_id,
                lat=lat,
                lon=lon,
                heading_deg=heading,
                fov_deg=fov,
                range_m=range_m,
                stream_url=stream,
                snapshot_url=snapshot or None,
                district=None if code == _NO_DISTRICT else names[code],
            )
            for camera_id, lat, lon, heading, fov, range_m, stream, snapshot, code in zip(
                self._ids.many(positions),
                self.lat[positions].tolist(),
                self.lon[positions].tolist(),
                self.heading[positions].tolist(),
                self.fov[positions].tolist(),
                self.range_m[positions].tolist(),
                self._stream.many(positions),
                self._snapshot.many(positions),
                self._district[positions].tolist(),
                strict=True,
            )
        ]

    def _check_unique(self) -> None:
        # equal ids have equal hashes: look only among the cameras whose hash is not alone
        same = np.flatnonzero(self._hash_sorted[1:] == self._hash_sorted[:-1])
        seen: set[str] = set()
        for j in np.unique(np.concatenate([same, same + 1])).tolist():
            camera_id = self._ids[int(self._hash_order[j])]
            if camera_id in seen:
                raise ValueError(f"duplicate camera id {camera_id!r}")
            seen.add(camera_id)


def return_freed_memory() -> None:
    """Hand the heap freed by a load (row chunks, the previous index) back to the system:
    glibc keeps it otherwise, and a node's RSS would stay ~60 % above what its cameras hold
    (measured at 300,000 cameras). A no-op where there is no `malloc_trim`."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is not None:
        trim(0)


class _Encoded:
    __slots__ = ("buffer", "lengths")

    def __init__(self, buffer: bytes, lengths: Int64Array) -> None:
        self.buffer, self.lengths = buffer, lengths


def _encoded(strings: Sequence[str]) -> _Encoded:
    lengths = np.fromiter(map(len, strings), np.int64, len(strings))
    buffer = "".join(strings).encode()
    if len(buffer) != int(lengths.sum()):  # not all ASCII: count bytes string by string
        parts = [s.encode() for s in strings]
        lengths = np.fromiter(map(len, parts), np.int64, len(parts))
    return _Encoded(buffer, lengths)


def _i32() -> Int32Array:
    return np.empty(0, dtype=np.int32)


def _row(c: Camera) -> CameraRowTuple:
    return (
        c.id,
        c.lat,
        c.lon,
        c.heading_deg,
        c.fov_deg,
        c.range_m,
        c.stream_url,
        c.snapshot_url,
        c.district,
    )


def _check_ids(ids: Sequence[str]) -> None:
    if all(ids) and all(map(str.__eq__, ids, map(str.strip, ids))):
        return
    for camera_id in ids:
        if not camera_id or camera_id != camera_id.strip():
            raise ValueError(f"id must be non-empty without surrounding spaces: {camera_id!r}")


def _check_numbers(numbers: FloatArray, ids: Sequence[str]) -> None:
    """The same bounds as `Camera`, for a whole chunk at once."""
    from contact.dispatch.cameras import MAX_RANGE_M  # lazily: see the imports

    lat, lon, heading, fov, range_m = numbers
    with np.errstate(invalid="ignore"):
        checks = (
            ("lat must be within -90..90", (lat >= -90.0) & (lat <= 90.0)),
            ("lon must be within -180..180", (lon >= -180.0) & (lon <= 180.0)),
            ("heading must be within 0..360", (heading >= 0.0) & (heading <= 360.0)),
            ("fov must be within (0, 360]", (fov > 0.0) & (fov <= 360.0)),
            (
                f"range must be within (0, {MAX_RANGE_M:g}] m",
                (range_m > 0.0) & (range_m <= MAX_RANGE_M),
            ),
        )
    for message, ok in checks:  # NaN fails every comparison, infinities fail the bounds
        bad = np.flatnonzero(~ok)
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"camera {ids[i]!r}: {message}")


__all__ = ["CameraRowTuple", "CameraTable", "CameraTableBuilder", "return_freed_memory"]
