"""Dispatch: cameras that can see a place, districts, and patrol units ranked by travel time.

Pure computation (numpy, scipy); HTTP and persistence adapters build on it.
"""
