"""Persistence: SQLModel tables, the async engine, repositories, the audit log, migrations.

The kernel's SQL: a feature that keeps its own tables brings its own adapter on this package's
Store (dispatch: contact/dispatch/sql/); persistence imports no feature.
"""

from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import schema_status, upgrade

__all__ = ["SqlDatabase", "schema_status", "upgrade"]
