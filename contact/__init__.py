"""contact: an open-source emergency contact center for a police 102 line."""

__version__ = "0.1.0"
