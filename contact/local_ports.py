"""Ports on 127.0.0.1 for the processes contact starts beside itself (sipp callers and phones
in the demo and the simulator, the tests' Asterisk and servers): free right now.

sipp's `-mp P` binds P for audio and P + 2 for video, and exits with 254 when P + 2 is taken:
a port the kernel just handed out says nothing about its neighbour, so a sipp media port comes
from a range of its own, below the kernel's ephemeral ports (32768–60999) and the Asterisk RTP
ranges in use (30000–32399), where nothing else asks for ports."""

from __future__ import annotations

import itertools
import os
import socket

SIPP_MEDIA_RANGE = (21000, 30000)
_starts = list(range(SIPP_MEDIA_RANGE[0], SIPP_MEDIA_RANGE[1], 4))
_first = os.getpid() % len(_starts)  # another process (a bench beside the tests) starts elsewhere
_media = itertools.cycle(_starts[_first:] + _starts[:_first])


def free_tcp_port() -> int:
    """A TCP port the kernel hands out now (HTTP, AMI)."""
    return _kernel_port(socket.SOCK_STREAM)


def free_udp_port() -> int:
    """A UDP port the kernel hands out now (SIP)."""
    return _kernel_port(socket.SOCK_DGRAM)


def _kernel_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def sipp_media_port(avoid: tuple[int, int] | None = None) -> int:
    """A port P for sipp's `-mp` with P .. P + 3 free (audio, video and their RTCP), outside
    `avoid` (an Asterisk's RTP range, first and last port)."""
    for _ in _starts:
        port = next(_media)
        if avoid is not None and port + 3 >= avoid[0] and port <= avoid[1]:
            continue
        if udp_ports_free(range(port, port + 4)):
            return port
    raise OSError(f"no free sipp media ports in {SIPP_MEDIA_RANGE}")


def udp_ports_free(ports: range) -> bool:
    """Whether every one of these UDP ports can be bound now."""
    held: list[socket.socket] = []
    try:
        for port in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(s)
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for s in held:
            s.close()
