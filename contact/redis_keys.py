"""Every Redis key and channel name `contact` uses, built from one prefix.

Nothing else in the code base spells a key. For Redis Cluster, give the prefix a hash tag
("{contact}:") so that the queue scripts, which touch several keys at once, stay on one slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from contact.domain.model import Capability, Language

ANY_LANGUAGE = "any"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str = "contact:"

    # --- the unified queue (see contact/routing/queue.lua for what each holds) -----------

    @property
    def waiting(self) -> str:
        """ZSET of waiting contacts by queue score; member = order key + contact id."""
        return f"{self.prefix}queue:waiting"

    @property
    def entries(self) -> str:
        """HASH contact id → QueueEntry record, for every waiting or offered contact."""
        return f"{self.prefix}queue:entries"

    @property
    def offers(self) -> str:
        """ZSET of offered contact ids by expiry."""
        return f"{self.prefix}queue:offers"

    @property
    def offer_holders(self) -> str:
        """HASH offered contact id → {operator, expires_at}."""
        return f"{self.prefix}queue:offer_holders"

    @property
    def operators(self) -> str:
        """HASH operator id → presence record."""
        return f"{self.prefix}queue:operators"

    def ready_pool(self, language: Language | None, capability: Capability) -> str:
        """ZSET of READY operator ids by idle-since who can take `capability` in `language`
        (None: whatever language)."""
        return f"{self.prefix}queue:ready:{self.pool_name(language, capability)}"

    @staticmethod
    def pool_name(language: Language | None, capability: Capability) -> str:
        lang = ANY_LANGUAGE if language is None else language.value
        return f"{lang}:{capability.value}"

    def ready_pools(self) -> dict[str, str]:
        """Every ready pool: its short name ("kk:voice", "any:chat") → its key."""
        languages: list[Language | None] = [None, *Language]
        return {
            self.pool_name(lang, cap): self.ready_pool(lang, cap)
            for lang in languages
            for cap in Capability
        }

    def queue_keys(self) -> list[str]:
        """Every key of the queue, e.g. to wipe it."""
        return [
            self.waiting,
            self.entries,
            self.offers,
            self.offer_holders,
            self.operators,
            *self.ready_pools().values(),
        ]

    # --- fan-out ----------------------------------------------------------------------------

    @property
    def broadcast_channel(self) -> str:
        """Pub/sub channel carrying projections to every node."""
        return f"{self.prefix}broadcast"
