"""SQLModel tables for calls, recordings, callbacks (issue 3).

Migrated by revision 0004.
"""

from __future__ import annotations
