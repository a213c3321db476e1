"""An example forest-redteam plugin."""
