"""Is the operator who holds a contact there to work it?

Something new joining an open contact (a second school alarm, another kiosk press, an app SOS
again, a repeated camera alert) goes to whoever holds it. That is safe only when the holder is
at the workplace: logged in (a session that is neither deleted at logout nor past its idle or
absolute timeout, the same rule auth.SessionManager applies to every request) and not away.
An operator who is not there cannot be handed an emergency; see ContactLifecycle.join.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from contact.config import AuthSettings
from contact.domain.model import Presence
from contact.ports import OperatorRepository, Session, SessionRepository


def session_live(session: Session, now: datetime, settings: AuthSettings) -> bool:
    """auth.SessionManager.principal's rule: within both the idle and the absolute timeout."""
    idle = (now - session.last_seen_at).total_seconds()
    age = (now - session.created_at).total_seconds()
    return idle <= settings.session_idle_s and age <= settings.session_absolute_s


@dataclass(frozen=True, slots=True)
class Absence:
    reason: str  # holder_away (away or logged out) | holder_without_session (expired)
    presence: Presence  # as recorded: a holder whose session expired may still read busy


class Attendance:
    def __init__(
        self,
        operators: OperatorRepository,
        sessions: SessionRepository,
        settings: AuthSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._operators = operators
        self._sessions = sessions
        self._settings = settings
        self._clock = clock

    async def absence(self, operator_id: str) -> Absence | None:
        """None when the operator is there: not away (logout sets away too) and holding a live
        session; else why not."""
        presence = (await self._operators.presences()).get(operator_id, Presence.AWAY)
        if presence is Presence.AWAY:
            return Absence("holder_away", presence)
        now = datetime.fromtimestamp(self._clock(), UTC)
        sessions = await self._sessions.for_operator(operator_id)
        if not any(session_live(s, now, self._settings) for s in sessions):
            return Absence("holder_without_session", presence)
        return None
