"""Stand-ins tests run next to a real center: the messengers' APIs (Telegram Bot API, WhatsApp
Graph API; they live in the product, `contact.simulate.standins`, and are re-exported here),
a speech engine and a places server."""
