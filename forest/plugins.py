"""Registries filled by modules: importing every module of a package registers what it defines,
so adding an attack, a defense or an economy is adding one file.

Third-party packages add theirs through entry points, one group per registry
(``PLUGIN_GROUPS``): an entry point names a module, and importing it registers what it defines,
exactly as a module of the package itself would. In a package's ``pyproject.toml``:

    [project.entry-points."forest_redteam.attacks"]
    my-attack = "my_package.my_attack"

A plugin that fails to import is skipped with a ``PluginWarning`` naming it: a broken third-party
package must not take the tool down.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import warnings
from collections.abc import Iterable


def import_all(package: str, path: Iterable[str]) -> None:
    """Import every module of ``package`` (whose ``__path__`` is ``path``)."""
    for module in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{module.name}")


PLUGIN_GROUPS = (
    "forest_redteam.attacks",
    "forest_redteam.defenses",
    "forest_redteam.economies",
    "forest_redteam.screens",
)


class PluginWarning(UserWarning):
    """A registered plugin that could not be loaded."""


def load_plugins(group: str) -> list[str]:
    """Import every module registered under the entry-point ``group``; returns their names."""
    if group not in PLUGIN_GROUPS:
        raise ValueError(f"group: expected one of {', '.join(PLUGIN_GROUPS)}, got {group!r}")
    loaded = []
    for entry in importlib.metadata.entry_points(group=group):
        try:
            entry.load()
        except Exception as exc:  # a third-party module may raise anything on import
            warnings.warn(
                f"plugin {entry.name!r} ({entry.value}) in {group} was not loaded: "
                f"{type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=2,
            )
            continue
        loaded.append(entry.name)
    return loaded
