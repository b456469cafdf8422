"""Local stand-ins for the messengers' APIs (Telegram Bot API, WhatsApp Graph API), real
HTTP servers that tests and benchmarks run next to a real center."""
