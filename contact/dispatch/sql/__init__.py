"""Dispatch's SQL adapter and tables: units and dispatches, incident grouping, cameras and
districts, one module per concern over the shared Store (contact.persistence.engine).

The tables (tables.py) sit on the kernel's `metadata`; the one Alembic chain
(contact/persistence/migrations, revision 0002 and later) creates them, and contact/schema.py
gathers them with every other table for Alembic and the schema test.
"""

from contact.dispatch.sql.cameras import CAMERA_BATCH, SqlCameras
from contact.dispatch.sql.districts import SqlDistricts
from contact.dispatch.sql.incidents import SqlIncidents
from contact.dispatch.sql.units import SqlUnits


class SqlDispatchRepository(SqlUnits, SqlIncidents, SqlCameras, SqlDistricts):
    """The whole DispatchRepository (contact.dispatch.ports) on one Store: SQLite or
    PostgreSQL."""


__all__ = ["CAMERA_BATCH", "SqlDispatchRepository"]
