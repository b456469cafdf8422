"""Citizens' files on the chat channels: what a failed fetch says, and what of the sender's
declared type and name an operator's browser is handed."""

from __future__ import annotations


class MediaError(Exception):
    """A citizen's file that could not be fetched from the messenger; `retry`: it may work
    later (network, the messenger's 5xx), else it never will (too large, gone, wrong hash)."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


# what an operator's browser may be handed inline; anything else is served as a download type
SAFE_MEDIA_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/heic",
        "video/mp4",
        "video/3gpp",
        "video/quicktime",
        "video/webm",
        "audio/ogg",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/amr",
        "audio/opus",
        "application/pdf",
        "text/plain",
    }
)


def safe_media_type(declared: str | None, default: str = "application/octet-stream") -> str:
    """The sender declares the type; only harmless ones are kept (no text/html inline)."""
    if not declared:
        return default
    media_type = declared.split(";", 1)[0].strip().lower()
    return media_type if media_type in SAFE_MEDIA_TYPES else "application/octet-stream"


def safe_filename(name: str | None) -> str | None:
    if not name:
        return None
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\\x00"')
    return cleaned.strip()[:200] or None
