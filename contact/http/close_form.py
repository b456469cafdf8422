"""What an operator picks when she closes a contact: an incident type and an outcome, stored
together as the contact's disposition "<type>/<outcome>" (the close API and the page's lists)."""

from __future__ import annotations

from typing import Any

from contact.domain.triage import Category
from contact.errors import Unprocessable

INCIDENT_TYPES = (*(c.value for c in Category), "other", "false_call")
OUTCOMES = ("unit_dispatched", "advised", "transferred", "resolved", "no_answer", "duplicate")


def disposition_of(body: dict[str, Any]) -> str | None:
    """`incident_type` and `outcome` of a close request as one disposition (both or neither)."""
    kind, outcome = body.get("incident_type"), body.get("outcome")
    if kind is None and outcome is None:
        return None
    if kind not in INCIDENT_TYPES or outcome not in OUTCOMES:
        raise Unprocessable(
            "incident_type and outcome must be chosen from the lists", error_id="invalid_outcome"
        )
    return f"{kind}/{outcome}"
