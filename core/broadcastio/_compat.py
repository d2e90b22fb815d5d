"""Support for the 0.3.0a2 module paths that still import, with a ``DeprecationWarning``.

The seed release published under this distribution name kept its classes in
``broadcastio.core.exceptions``, ``broadcastio.providers.whatsapp`` and so on.
Its users upgrade into this package, so those paths keep working for now; each
one says, once per process (module imports are cached), where its names live
today. docs/migrating.md lists every difference.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType
from typing import Any

__all__ = ["load_plugin_attribute", "warn_moved"]


def warn_moved(old_module: str, new_spelling: str) -> None:
    """Warn, from a deprecated module's top level, that ``old_module`` is now ``new_spelling``.

    ``stacklevel=3`` skips this function and the deprecated module itself;
    Python leaves out the import machinery's frames on its own, so the warning
    points at the user's ``import`` line.
    """
    warnings.warn(
        f"{old_module} is deprecated (it is the 0.3.0a2 layout): {new_spelling}. "
        "See docs/migrating.md.",
        DeprecationWarning,
        stacklevel=3,
    )


def load_plugin_attribute(
    old_module: str, name: str, package: str, distribution: str, exported: tuple[str, ...]
) -> Any:
    """``name`` from provider plugin ``package``, imported only when it is asked for.

    The core must not need its plugins installed; only someone using the old
    import path for a provider needs that provider's package, and is told which
    one to install if it is missing.
    """
    if name not in exported:
        raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
    try:
        module: ModuleType = importlib.import_module(package)
    except ImportError as error:
        raise ImportError(
            f"{old_module}.{name} now lives in the {distribution} plugin package, which is "
            f"not installed: pip install {distribution} (then import it from {package})",
            name=package,
        ) from error
    return getattr(module, name)
