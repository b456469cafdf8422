"""Intake channels, one folder each with the same files (routes.py, parse.py, client.py…).

`contact/plugins.py` lists them; config switches each on or off.
"""
