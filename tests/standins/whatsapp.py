"""The WhatsApp Graph API stand-in, which lives in the product (`contact simulate` runs it)."""

from contact.simulate.standins.whatsapp import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    VERSION,
    GraphApiStandIn,
    sign,
)

__all__ = [
    "ACCESS_TOKEN",
    "APP_SECRET",
    "PHONE_NUMBER_ID",
    "VERIFY_TOKEN",
    "VERSION",
    "GraphApiStandIn",
    "sign",
]
