"""Handlers of the ``redteam`` sub-commands."""
