"""The address of the client behind the TLS proxy (for per-address throttling).

Behind a reverse proxy every request comes from the proxy's address: throttling by it would
throttle everybody at once. With CONTACT_HTTP_TRUSTED_PROXIES set, X-Forwarded-For is read
from the right, skipping the trusted proxies; the first other address is the client. Without
it (or from an untrusted peer) the header is ignored: anyone can write it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from contact.config import Network, parse_networks

__all__ = ["Network", "client_address", "client_of", "parse_networks"]


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_of(remote: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    peer = remote or "?"
    if not proxies or not forwarded_for or not _trusted(peer, proxies):
        return peer
    for hop in reversed(forwarded_for.split(",")):
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop.strip("[]"))
        except ValueError:
            return peer  # a malformed chain: trust only what we saw ourselves
        if not _trusted(hop, proxies):
            return hop
    return peer


def client_address(request: web.Request, proxies: Sequence[Network]) -> str:
    return client_of(request.remote, request.headers.get("X-Forwarded-For"), proxies)
