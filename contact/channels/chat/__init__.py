"""The chat feature: what Telegram and WhatsApp share.

- `ports.py`: inbox items, conversations, deliveries and the ChatStore they are kept in;
  `sql.py` its SQL adapter (tables in persistence/tables_channels.py, migrated by 0003),
  `cache.py` the node's short-lived cache of conversations in front of it;
- `inbox.py`: stored first, answered after (group commit), then handled per conversation;
- `handler.py`: what both channels do with a stored item (language, files, the contact);
- `intake.py`: a chat message → the open contact of its conversation, or a new one;
- `outbox.py`: messages to citizens, stored then sent in the background, with their delivery
  state; `notify.py`: what citizens are told as their report moves on;
- `limiter.py`: each citizen's rate; `webhook.py`: the channels' webhook sub-applications;
- `texts.py`, `media.py`: what citizens read, what of their files operators are handed.

`telegram/` and `whatsapp/` keep only what is theirs: parsing, the messenger's client, the
check of its webhook, and what only that messenger does.
"""
