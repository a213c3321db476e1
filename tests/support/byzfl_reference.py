"""ByzFL (PyPI ``byzfl``), the test-only reference for aggregators and attacks.

``import byzfl`` runs its ``__init__``, which loads its benchmark framework and needs
torchvision, which is not installed here (a CUDA build would come with it). The aggregators and
attacks need neither: ``byzfl`` is registered as a bare package, so that only the subpackages
asked for load. Installed by the Makefile with ``--no-deps`` for the same reason.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def byzfl_module(name: str) -> types.ModuleType:
    """``byzfl.<name>`` (``aggregators``, ``attacks``) without ``byzfl/__init__.py``."""
    if "byzfl" not in sys.modules:
        spec = importlib.util.find_spec("byzfl")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("byzfl is not installed: `make .venv/bin/.installed` installs it")
        package = types.ModuleType("byzfl")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["byzfl"] = package
    return importlib.import_module(f"byzfl.{name}")
