"""Ports for the processes tests start (sipp, Asterisk, contact): free right now on 127.0.0.1.

sipp's `-mp P` binds P for audio and P + 2 for video, and exits with 254 when P + 2 is taken:
a port the kernel just handed out says nothing about its neighbour, so a sipp media port comes
from its own range, below the kernel's ephemeral ports (32768–60999) and the Asterisk RTP
ranges the tests use (31000–32399), where nothing else asks for ports."""

from __future__ import annotations

import itertools
import os
import socket

SIPP_MEDIA_RANGE = (24000, 30000)
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


def sipp_media_port() -> int:
    """A port P for sipp's `-mp` with P and P + 2 (and their RTCP neighbours) free."""
    for _ in _starts:
        port = next(_media)
        if _udp_free(range(port, port + 4)):
            return port
    raise RuntimeError(f"no free sipp media ports in {SIPP_MEDIA_RANGE}")


def _udp_free(ports: range) -> bool:
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
