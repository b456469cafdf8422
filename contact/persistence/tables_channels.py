"""SQLModel tables for Telegram and WhatsApp conversations, citizen profiles (issue 4).

Migrated by revision 0003.
"""

from __future__ import annotations
