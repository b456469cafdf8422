"""What a plugin is and what it receives: the kernel's side of the plugin seam.

A feature (a channel, telephony, transcription, dispatch) exposes one `PLUGIN`. The composition
root (`contact/plugins.py`, `contact/bootstrap.py`) alone lists them; the kernel only knows the
`Plugin` type and the `Container` every plugin's `install` receives.

What a plugin shares with its routes or with the plugins that require it goes into the
container under a typed `Key` it declares (aiohttp's `web.AppKey`, Home Assistant's
`runtime_data`): `container.provide(TELEPHONY, telephony)`, then `container.get(TELEPHONY)` is a
`Telephony` to mypy, and a missing part fails with the key's name rather than a `None`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

from contact.errors import ConfigError
from contact.i18n import register as register_texts

if TYPE_CHECKING:  # types only: a feature's package may import this module from anywhere
    import redis.asyncio as aioredis
    from aiohttp import web

    from contact.bus import MessageBus
    from contact.config import Settings
    from contact.metrics import Metrics
    from contact.persistence.database import SqlDatabase
    from contact.ports import BackgroundService, Broadcast, QueueStore
    from contact.routing.control import ControlRoom
    from contact.routing.lifecycle import ContactLifecycle
    from contact.routing.orphans import OrphanSweeper
    from contact.routing.service import RoutingService
    from contact.triage import Triage
    from contact.triage.editor import LexiconEditor

T = TypeVar("T")


@final
class Key(Generic[T]):
    """A typed name for one part a plugin provides: `TELEPHONY: Key[Telephony] = Key("telephony")`.
    Keys compare by identity, so two features cannot collide on a name; the name is what
    /healthz and error messages show."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Key {self.name}>"


@dataclass
class Container:
    """The kernel's services, built by the composition root, and the parts plugins provide."""

    settings: Settings
    node_id: str
    db: SqlDatabase
    store: QueueStore
    broadcast: Broadcast
    bus: MessageBus
    routing: RoutingService
    lifecycle: ContactLifecycle
    control: ControlRoom
    sweeper: OrphanSweeper
    metrics: Metrics
    redis: aioredis.Redis | None
    triage: Triage
    lexicon: LexiconEditor
    clock: Callable[[], float] = time.time
    # background services of plugins (AMI client, Telegram polling …): started after routing
    # in order, stopped before it in reverse order
    services: list[BackgroundService] = field(default_factory=list)
    # the plugins installed, in order: the HTTP app mounts their routes and OpenAPI paths
    plugins: tuple[Plugin, ...] = ()
    _parts: dict[Key[Any], object] = field(default_factory=dict)
    _started: bool = False

    # --- what plugins share ----------------------------------------------------------------

    def provide(self, key: Key[T], value: T) -> None:
        if key in self._parts:
            raise ValueError(f"{key.name} is already provided")
        self._parts[key] = value

    def get(self, key: Key[T]) -> T:
        try:
            return self._parts[key]  # type: ignore[return-value]  # provide() typed it
        except KeyError:
            raise LookupError(f"{key.name} is not provided (is its plugin on?)") from None

    def find(self, key: Key[T]) -> T | None:
        return self._parts.get(key)  # type: ignore[return-value]  # provide() typed it

    def __contains__(self, key: Key[Any]) -> bool:
        return key in self._parts

    def parts(self) -> Iterator[tuple[str, object]]:
        """Every provided part with its key's name (/healthz asks those that report)."""
        for key, value in self._parts.items():
            yield key.name, value

    def installed(self, name: str) -> bool:
        return any(p.name == name for p in self.plugins)

    # --- running ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.broadcast.start()
        await self.routing.start()
        await self.sweeper.start()
        for service in self.services:
            await service.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            for service in reversed(self.services):
                await service.stop()
            await self.sweeper.stop()
            await self.routing.stop()
            await self.broadcast.stop()
            self._started = False
        await self.store.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.close()


@dataclass(frozen=True)
class Panel:
    """A part of a staff page that a plugin brings: its template (under web/templates/), the
    page and the place on it (`slot`) it goes into, and the scripts it needs (loaded after
    the page's own, in order). The page renders the panels of the plugins installed."""

    page: str  # operator | supervisor
    slot: str  # the page's named place for it (the operator page: side)
    template: str
    scripts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plugin:
    """One feature: switched on by `enabled(settings)`; `install` subscribes its handlers,
    adds its background services and provides its parts; `routes` mounts its HTTP handlers;
    `openapi` holds its OpenAPI `paths` entries.

    `requires` names the plugins it cannot run without (it may import them, and the loader
    refuses a configuration that switches it on without them); `uses` names plugins it talks
    to only when they are on (it may import them; nothing is refused). `switch` is the setting
    that turns it on or off, for the loader's message."""

    name: str
    enabled: Callable[[Settings], bool]
    install: Callable[[Container], None] | None = None
    routes: Callable[[web.Application], None] | None = None
    openapi: Mapping[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    switch: str = ""
    # its texts (key → language → words): in the catalogue as soon as the package is imported,
    # whether or not the plugin is switched on (its pages' panels render either way)
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    panels: tuple[Panel, ...] = ()  # what it shows on the staff's pages

    def __post_init__(self) -> None:
        register_texts(self.texts)


def resolve(plugins: Iterable[Plugin], settings: Settings) -> tuple[Plugin, ...]:
    """The enabled plugins, in the given order, each after what it requires. A plugin switched
    on without a plugin it requires is a ConfigError naming both and the settings to change."""
    known = {p.name: p for p in plugins}
    on = {name: p for name, p in known.items() if p.enabled(settings)}
    for plugin in on.values():
        for needed in plugin.requires:
            if needed in on:
                continue
            if needed not in known:
                raise ConfigError(
                    f"plugin {plugin.name!r} requires {needed!r}, which does not exist",
                    error_id="plugin_unknown_requirement",
                )
            other = known[needed]
            raise ConfigError(
                f"plugin {plugin.name!r} requires plugin {needed!r}, which is off: "
                f"switch {needed!r} on ({other.switch or 'its setting'}) "
                f"or {plugin.name!r} off ({plugin.switch or 'its setting'})",
                error_id="plugin_requirement_off",
                details={"plugin": plugin.name, "requires": needed},
            )
    ordered: list[Plugin] = []
    visiting: set[str] = set()

    def visit(plugin: Plugin) -> None:
        if plugin in ordered:
            return
        if plugin.name in visiting:
            raise ConfigError(
                f"plugins require each other in a circle through {plugin.name!r}",
                error_id="plugin_requirement_circle",
            )
        visiting.add(plugin.name)
        for needed in plugin.requires:
            visit(on[needed])
        visiting.discard(plugin.name)
        ordered.append(plugin)

    for plugin in on.values():
        visit(plugin)
    return tuple(ordered)
