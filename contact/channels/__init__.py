"""Intake channels, one folder each with the same files (routes.py, parse.py, client.py…).

`registry.CHANNELS` lists them; config switches each on or off.
"""
