"""Which camera addresses the server may be made to reach (SSRF).

A camera's snapshot URL is fetched by the server for any operator, so an imported URL could
point the server at itself or at a cloud's metadata service (169.254.169.254 hands out
credentials). Refused always: link-local (169.254.0.0/16, fe80::/10; AWS, GCP, Azure,
OpenStack metadata live there), the other clouds' metadata addresses (Alibaba 100.100.100.200,
AWS IPv6 fd00:ec2::254, Oracle 192.0.0.192), unspecified, multicast and broadcast addresses.
Refused unless CONTACT_DISPATCH_CAMERA_ALLOW_LOOPBACK: loopback (127.0.0.0/8, ::1,
"localhost"). Private ranges stay allowed: that is where cameras live.

Checked twice: at import on the URL's host (literal addresses in any spelling inet_aton
accepts, e.g. 2852039166 or 0xa9.254.169.254, and known metadata names), and at fetch time on
the addresses the name resolves to (`GuardedResolver`), so a name that resolves elsewhere
later (DNS rebinding) is refused too: the connection goes only to the checked addresses.
"""

from __future__ import annotations

import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",
        "fe80::/10",
        "100.100.100.200/32",
        "fd00:ec2::254/128",
        "192.0.0.192/32",
    )
)
LOOPBACK = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128"))
METADATA_NAMES = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class RefusedAddress(ValueError):
    """The host or address is one the server must not reach."""


def refusal(address: IpAddress, allow_loopback: bool) -> str | None:
    """Why this address may not be reached, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or _nat64(address)
        if embedded is not None:
            return refusal(embedded, allow_loopback)
    if any(address in net for net in METADATA) or address.is_link_local:
        return "a link-local or cloud metadata address"
    if address.is_unspecified or address.is_multicast or str(address) == "255.255.255.255":
        return "an unspecified, multicast or broadcast address"
    if not allow_loopback and (address.is_loopback or any(address in n for n in LOOPBACK)):
        return "a loopback address (allowed only with CONTACT_DISPATCH_CAMERA_ALLOW_LOOPBACK)"
    return None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> IpAddress | None:
    """The address a host names by itself, in any spelling a resolver would accept."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:  # 2852039166, 0xa9fea9fe, 169.254.43518, 0251.0376.0251.0376
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_host(host: str | None, allow_loopback: bool) -> None:
    """RefusedAddress unless the server may reach this host (names are checked again at
    fetch time, on what they resolve to)."""
    if not host:
        raise RefusedAddress("the URL has no host")
    name = host.lower().rstrip(".")
    if name in METADATA_NAMES:
        raise RefusedAddress(f"{host} is a cloud metadata service")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        if not allow_loopback:
            raise RefusedAddress(
                f"{host} is a loopback address (allowed only with "
                "CONTACT_DISPATCH_CAMERA_ALLOW_LOOPBACK)"
            )
        return
    address = literal_address(name)
    if address is not None and (why := refusal(address, allow_loopback)) is not None:
        raise RefusedAddress(f"{host} is {why}")


def check_camera_url(url: str, allow_loopback: bool) -> None:
    """RefusedAddress when a camera URL (stream or snapshot) names a refused host."""
    try:
        host = URL(url).raw_host
    except ValueError as exc:
        raise RefusedAddress(f"not a URL: {exc}") from None
    check_host(host, allow_loopback)


class GuardedResolver(AbstractResolver):
    """Resolves through aiohttp's default resolver and refuses a name when any of its
    addresses is refused, so the fetch connects only to addresses that were checked."""

    def __init__(self, allow_loopback: bool, inner: AbstractResolver | None = None) -> None:
        self._allow_loopback = allow_loopback
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        check_host(host, self._allow_loopback)
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(str(result["host"]).split("%", 1)[0])
            why = refusal(address, self._allow_loopback)
            if why is not None:
                raise OSError(f"{host} resolves to {why}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_connector(
    allow_loopback: bool, inner: AbstractResolver | None = None
) -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(resolver=GuardedResolver(allow_loopback, inner))
