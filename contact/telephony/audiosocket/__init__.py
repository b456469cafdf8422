"""Asterisk's AudioSocket protocol (wire.py) and the loopback server its taps connect to
(server.py): the mechanics behind the call-audio seam (contact/telephony/audio.py)."""
