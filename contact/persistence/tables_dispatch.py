"""SQLModel tables for units, unit statuses, cameras, districts, incident grouping (issue 5).

Migrated by revision 0002.
"""

from __future__ import annotations
