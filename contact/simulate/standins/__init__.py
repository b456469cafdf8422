"""Local stand-ins for the messengers' APIs (Telegram Bot API, WhatsApp Graph API): real HTTP
servers that answer what a center sends its citizens and play the messengers' side of the
webhooks. `contact simulate` runs them next to the center it drives; tests and benchmarks use
the same ones (tests/standins re-exports them)."""
