"""SQLModel tables for app devices, SOS kiosks, alarm sites, camera alerts (issue 4).

Migrated by revision 0005.
"""

from __future__ import annotations
