"""Ports for the processes tests start (sipp, Asterisk, contact): the product's own picker
(`contact/local_ports.py`: sipp media ports from a range of their own, since `-mp P` binds
P + 2 too)."""

from __future__ import annotations

from contact.local_ports import free_tcp_port, free_udp_port, sipp_media_port

__all__ = ["free_tcp_port", "free_udp_port", "sipp_media_port"]
