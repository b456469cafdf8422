"""102 voice: the call book and the flows around it (service.py has the map)."""

from contact.telephony.voice.kit import ATTACHABLE, NOT_ANSWERED, VOICE_CHANNELS
from contact.telephony.voice.service import VoiceService

__all__ = ["ATTACHABLE", "NOT_ANSWERED", "VOICE_CHANNELS", "VoiceService"]
