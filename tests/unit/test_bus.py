import asyncio
import logging
from dataclasses import dataclass
from typing import ClassVar

import pytest

from contact.bus import MessageBus
from contact.domain.commands import Command
from contact.domain.events import Event


@dataclass(frozen=True, kw_only=True)
class Happened(Event):
    name: ClassVar[str] = "test.happened"
    contact_id: str
    n: int


@dataclass(frozen=True, kw_only=True)
class DoIt(Command):
    name: ClassVar[str] = "do_it"
    contact_id: str
    n: int


async def test_commands_fail_loud() -> None:
    bus = MessageBus()

    async def boom(cmd: DoIt) -> None:
        raise RuntimeError("no")

    bus.register(DoIt, boom)
    with pytest.raises(RuntimeError):
        await bus.execute(DoIt(contact_id="a", n=1))


async def test_a_command_has_one_handler() -> None:
    bus = MessageBus()

    async def h(cmd: DoIt) -> None:
        return None

    bus.register(DoIt, h)
    with pytest.raises(ValueError):
        bus.register(DoIt, h)
    with pytest.raises(LookupError):
        await MessageBus().execute(DoIt(contact_id="a", n=1))


async def test_events_fail_soft_and_are_logged_with_the_contact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MessageBus()
    seen: list[int] = []

    async def broken(e: Happened) -> None:
        raise RuntimeError("subscriber bug")

    async def fine(e: Happened) -> None:
        seen.append(e.n)

    bus.subscribe(Happened, broken)
    bus.subscribe(Happened, fine)
    with caplog.at_level(logging.ERROR):
        await bus.publish(Happened(contact_id="c9", n=1))
    assert seen == [1]
    assert any(getattr(r, "contact_id", None) == "c9" for r in caplog.records)


async def test_events_published_by_a_command_run_after_it_returns() -> None:
    bus = MessageBus()
    order: list[str] = []

    async def handler(cmd: DoIt) -> int:
        await bus.publish(Happened(contact_id=cmd.contact_id, n=cmd.n))
        order.append("handler done")
        return cmd.n * 2

    async def on_event(e: Happened) -> None:
        order.append(f"event {e.n}")

    bus.register(DoIt, handler)
    bus.subscribe(Happened, on_event)
    assert await bus.execute(DoIt(contact_id="a", n=3)) == 6
    assert order == ["handler done", "event 3"]


async def test_per_contact_order_is_kept_across_concurrent_publishers() -> None:
    bus = MessageBus()
    seen: dict[str, list[int]] = {"a": [], "b": []}

    async def slow(e: Happened) -> None:
        await asyncio.sleep(0.001 * (5 - e.n % 5))  # later events would overtake if unordered
        seen[e.contact_id].append(e.n)

    bus.subscribe(Happened, slow)
    await asyncio.gather(
        *(bus.publish(Happened(contact_id=k, n=i)) for i in range(20) for k in ("a", "b"))
    )
    assert seen["a"] == list(range(20))
    assert seen["b"] == list(range(20))


async def test_an_event_handler_may_run_a_command_on_the_same_contact() -> None:
    bus = MessageBus()
    done: list[int] = []

    async def cmd_handler(cmd: DoIt) -> None:
        done.append(cmd.n)

    async def on_event(e: Happened) -> None:
        await bus.execute(DoIt(contact_id=e.contact_id, n=e.n))  # same key: must not deadlock

    bus.register(DoIt, cmd_handler)
    bus.subscribe(Happened, on_event)
    await asyncio.wait_for(bus.publish(Happened(contact_id="x", n=7)), 1)
    assert done == [7]


async def test_subscribe_all_sees_every_event_and_locks_are_released() -> None:
    bus = MessageBus()
    seen: list[str] = []

    async def everything(e: Event) -> None:
        seen.append(e.name)

    bus.subscribe_all(everything)
    await bus.publish(Happened(contact_id="a", n=1))
    assert seen == ["test.happened"]
    assert len(bus._locks) == 0


async def test_events_from_a_task_started_in_a_handler_are_handled() -> None:
    bus = MessageBus()
    seen: list[int] = []
    started: list[asyncio.Task[None]] = []

    async def later(n: int) -> None:
        await asyncio.sleep(0.01)  # the parent's drain has finished by now
        await bus.publish(Happened(contact_id="b", n=n))

    async def on_event(e: Happened) -> None:
        seen.append(e.n)
        if e.n == 1:
            started.append(asyncio.create_task(later(2)))

    bus.subscribe(Happened, on_event)
    await bus.publish(Happened(contact_id="a", n=1))
    await asyncio.gather(*started)
    assert seen == [1, 2]
