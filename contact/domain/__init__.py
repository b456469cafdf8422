"""The pure core: model, events, commands and triage rules. Imports no SDK (tested)."""
