"""The Telegram Bot API stand-in, which lives in the product (`contact simulate` runs it)."""

from contact.simulate.standins.telegram import SECRET, TOKEN, BotApiStandIn

__all__ = ["SECRET", "TOKEN", "BotApiStandIn"]
