"""Dispatch: cameras that can see a place, districts, and patrol units ranked by travel time.

Pure computation (numpy, scipy); HTTP and persistence adapters build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contact.context import Key

if TYPE_CHECKING:
    from contact.dispatch.routes import DispatchParts

# what the dispatch plugin shares with its routes (service, repository, snapshot proxy …)
DISPATCH_PART: Key[DispatchParts] = Key("dispatch")
