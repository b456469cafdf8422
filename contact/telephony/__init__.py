"""Asterisk: the local runner, AMI client, call control, dialplan contract."""
