"""The ``forest`` command's sub-commands, one module per group."""
