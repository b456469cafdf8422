"""The whole schema on one MetaData: the kernel's tables (contact.persistence.tables) and
every feature's own (dispatch: contact/dispatch/sql/tables.py), for Alembic's
`target_metadata` (persistence/migrations/env.py) and the test that compares the migrated
schema with the code.

Part of the composition: it alone knows every feature that owns tables. The migrations
themselves import no table (plain SQLAlchemy), so the one chain describes each revision as it
was; a feature adding tables imports them here.
"""

from __future__ import annotations

import contact.dispatch.sql.tables  # noqa: F401 - registers dispatch's tables on metadata
from contact.persistence.tables import metadata

__all__ = ["metadata"]
