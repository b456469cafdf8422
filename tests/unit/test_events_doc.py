"""docs/events.md's catalogue is the code's: events, fields, builders, subscribers, topics."""

from __future__ import annotations

import ast
import difflib

from contact.domain import events as ev
from tests import events_doc


def test_the_event_catalogue_is_up_to_date() -> None:
    current = events_doc.DOC.read_text()
    wanted = events_doc.render(current)
    diff = "\n".join(
        difflib.unified_diff(
            current.splitlines(), wanted.splitlines(), "docs/events.md", "the code", lineterm=""
        )
    )
    assert wanted == current, (
        f"docs/events.md is out of date; regenerate it with `{events_doc.REGENERATE}`\n{diff}"
    )


def test_every_event_and_the_known_subscribers_are_found() -> None:
    table = events_doc.table()
    for cls in ev.ALL_EVENTS:
        assert f"| `{cls.name}` |" in table
    found = events_doc.wiring()
    # wired in the three styles the code uses: one event, a loop over a module-level tuple,
    # and a local bound by getattr(ev, …)
    assert "`RoutingService._on_queued` (routing/service.py)" in found.subscribers["ContactQueued"]
    assert (
        "`TelephonyProjection._call_event` (telephony/projection.py)"
        in (found.subscribers["CallEnded"])
    )
    assert (
        "`DispatchService._on_requested` (dispatch/service.py)"
        in (found.subscribers["SuggestionRequested"])
    )
    assert "routing/lifecycle.py" in found.publishers["ContactReceived"]
    assert {"contact:<id>", "supervisor"} <= found.topics["CallEnded"]


def test_a_subscription_it_cannot_resolve_fails_loudly(tmp_path: object) -> None:
    source = "from contact.domain import events as ev\n\ndef wire(bus, pick):\n"
    source += "    bus.subscribe(pick(), print)\n"
    module = ast.parse(source)
    call = module.body[1].body[0].value  # type: ignore[attr-defined]
    resolver = events_doc._Module.__new__(events_doc._Module)
    resolver.events_aliases, resolver.direct = {"ev"}, {}
    resolver.assigned, resolver.imported, resolver.modules = {}, {}, {}
    try:
        resolver.resolve(call.args[0], [])
    except events_doc.Unresolved as error:
        assert str(error) == "pick()"
    else:
        raise AssertionError("an unresolvable subscription was accepted")
