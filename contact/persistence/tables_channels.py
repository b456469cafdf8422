"""SQLModel tables for citizen profiles, devices, kiosks, alarm sites, channel dedupe (issue 4).

Migrated by revision 0003.
"""

from __future__ import annotations
