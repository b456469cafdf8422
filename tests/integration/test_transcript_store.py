"""The transcript store on both backends: segments by contact, full-text search (SQLite FTS5,
PostgreSQL tsvector) in Russian, Kazakh and Latin, query text that is never query syntax,
retention, and the conditional raise of a waiting contact's priority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contact.config import DatabaseSettings
from contact.domain.model import ChannelKind, Contact, Priority, new_id
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade
from contact.persistence.transcripts import Segment, SqlTranscriptStore

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _segment(contact_id: str, text: str, at: datetime = NOW) -> Segment:
    words = tuple((w, float(i), i + 0.5, 0.9) for i, w in enumerate(text.split()))
    return Segment(new_id(), contact_id, "caller", "ru", text, words, 0.0, 1.0, 0.9, at, at)


async def test_segments_search_and_retention(database_url: str) -> None:
    await upgrade(database_url)
    db = await SqlDatabase.open(DatabaseSettings(url=database_url))
    try:
        store = SqlTranscriptStore(db._store)
        await store.prepare()
        await store.prepare()  # idempotent: every start runs it
        contact = Contact(id=new_id(), channel=ChannelKind.VOICE, priority=Priority.VOICE,
                          created_at=NOW)  # fmt: skip
        await db.contacts.add(contact)
        old = NOW - timedelta(days=40)
        for text, at in (
            ("У него ПИСТОЛЕТ в руке", NOW),
            ("Мылтық бар, тез келіңіздер", NOW),
            ("auyrady, jaraqat bar", NOW),
            ("старый пистолет", old),
        ):
            await store.add(_segment(contact.id, text, at))
        assert (await store.for_contact(contact.id))[0].text == "старый пистолет"
        found = await store.search("пистолет")
        assert [s.text for s in found] == ["У него ПИСТОЛЕТ в руке", "старый пистолет"]
        assert [s.text for s in await store.search("МЫЛТЫҚ")] == ["Мылтық бар, тез келіңіздер"]
        assert [s.text for s in await store.search("jaraqat")] == ["auyrady, jaraqat bar"]
        assert [s.text for s in await store.search("пистолет руке")] == ["У него ПИСТОЛЕТ в руке"]
        # operators of either query language are words here, never syntax
        for hostile in ('" OR 1=1 --', "NEAR(a b)", "*", "a:b", "') ; DROP TABLE x; --", "&|!"):
            assert await store.search(hostile) == []
        assert found[0].words[1] == ("него", 1.0, 1.5, 0.9)

        assert await store.count_before(NOW - timedelta(days=30)) == 1
        assert await store.purge_before(NOW - timedelta(days=30)) == 1
        assert [s.text for s in await store.search("пистолет")] == ["У него ПИСТОЛЕТ в руке"]
        assert len(await store.for_contact(contact.id)) == 3
    finally:
        await db.close()
