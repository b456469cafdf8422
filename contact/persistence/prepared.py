"""Core statements compiled once and run on the driver's cursor, for the statements hot paths
run (Store.write_sync / read_sync units of work): every intake, and the reads and writes of
every contact's life (get, save, presence, the session check of each request).

Through a SQLAlchemy Connection each statement costs a cache key, an execution context and a
result wrapper: measured 120-190 µs of CPU per small statement on the project's machine,
against 4 µs for the same statement on the sqlite3 cursor. A `Prepared` keeps SQLAlchemy's
compiled SQL and its bind processors (UtcDateTime's refusal of naive datetimes, SQLite's
datetime text), so what reaches the database is what the Core statement would have sent, and
the driver's errors are raised as SQLAlchemy's (IntegrityError, OperationalError), as
`translate_errors` and the repositories expect. Positional paramstyles only (sqlite3's qmark,
the asyncpg adapter's $n): the two backends contact ships.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import is_exit_exception


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


class Prepared:
    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        self._types: dict[str, tuple[Any, ...]] = {}  # of the selected columns
        self._records: dict[str, Any] = {}  # a named tuple type of the selected columns
        self._results: dict[str, tuple[Callable[[Any], Any] | None, ...]] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        found = self._by_dialect.get(key)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            names = tuple(compiled.positiontup or ())
            # a name may come back in several places (one value used twice)
            if not dialect.positional or set(names) != set(compiled.binds):
                raise TypeError(f"{dialect.name}+{dialect.driver}: positional parameters only")
            # the dialect's own implementation of each type (SQLite's DateTime writes a fixed
            # text form with microseconds; the generic type would leave a datetime to the
            # driver's adapter, whose text drops them and then sorts apart from every other row)
            processors = tuple(
                compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
            )
            found = _Compiled(str(compiled), names, processors)
            self._types[key] = tuple(column[3] for column in compiled._result_columns)
            names = tuple(column[0] for column in compiled._result_columns)
            self._records[key] = namedtuple("Record", names, rename=True)
            self._by_dialect[key] = found
        return found

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run with `params` by bind name (every one needed); the driver's cursor, to fetch
        from (rows come back as the driver gives them: no result processing)."""
        dialect = conn.dialect
        compiled = self._compiled(dialect)
        values = tuple(
            params[name] if process is None else process(params[name])
            for name, process in zip(compiled.names, compiled.processors, strict=True)
        )
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if conn._has_events or conn.engine._has_events:
            # listeners see the statement as the driver gets it (tests explain the SQL a
            # query runs; echo-like hooks), as they would through Connection.execute
            conn.dispatch.before_cursor_execute(conn, cursor, compiled.sql, values, None, False)
        try:
            cursor.execute(compiled.sql, values)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            # as Connection.execute does: a connection the driver lost is invalidated, and
            # the error says so (Store.write_sync and read_sync run such a unit once more)
            lost = dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)
            if lost:
                conn.invalidate(error)
            raise exc.DBAPIError.instance(
                compiled.sql,
                values,
                error,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,  # they hold a citizen's data
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        except BaseException as error:
            # cancelled mid-statement (its BEGIN, even): the driver's state is unknown, so the
            # connection is closed, never handed out again (as Connection.execute does)
            if is_exit_exception(error):
                conn.invalidate(error)
            raise
        return cursor

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None."""
        cursor = self.execute(conn, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else row[0]

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row, each column through its type's result processing (as a Core result)."""
        cursor = self.execute(conn, params)
        try:
            fetched = cursor.fetchall()
            results = self._result_processors(conn.dialect, cursor.description)
        finally:
            cursor.close()
        if not any(results):
            return [tuple(row) for row in fetched]
        return [
            tuple(
                value if process is None else process(value)
                for value, process in zip(row, results, strict=True)
            )
            for row in fetched
        ]

    def records(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """`rows`, each a named tuple with an attribute per selected column, read as an ORM
        row is (`row.state`): the repositories' row → domain mappings take either."""
        rows = self.rows(conn, params)
        record = self._records[f"{conn.dialect.name}+{conn.dialect.driver}"]
        return [record._make(row) for row in rows]

    def _result_processors(
        self, dialect: Dialect, description: Any
    ) -> tuple[Callable[[Any], Any] | None, ...]:
        # what SQLAlchemy does to each selected column (SQLite's datetime text → an aware
        # datetime through UtcDateTime), given the driver's column type as a result would
        key = f"{dialect.name}+{dialect.driver}"
        found = self._results.get(key)
        if found is None:
            found = tuple(
                type_._cached_result_processor(dialect, column[1])
                for type_, column in zip(self._types[key], description, strict=True)
            )
            self._results[key] = found
        return found

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """A statement that returns no rows (INSERT, UPDATE)."""
        self.execute(conn, params).close()

    def count(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """A statement that returns no rows (UPDATE, DELETE): how many rows it matched."""
        cursor = self.execute(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()
