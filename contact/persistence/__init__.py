"""Persistence: SQLModel tables, the async engine, repositories, the audit log, migrations.

The only package that speaks SQL.
"""

from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import schema_status, upgrade

__all__ = ["SqlDatabase", "schema_status", "upgrade"]
