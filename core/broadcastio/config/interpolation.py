"""``${VAR}`` and ``${VAR:-default}`` in configuration strings, so secrets stay out of files.

Only string values are expanded (never keys), and only the exact forms above:
a shell's full expansion language would make a config file harder to read than
the problem it solves. ``$${`` writes a literal ``${``. A variable that is unset
and has no default is an error naming the key and the variable, rather than an
empty string: an empty API key fails much later and much less clearly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from broadcastio.errors import ConfigurationError, KeyPath, format_key_path

__all__ = ["interpolate"]

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_REFERENCE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?\Z", re.DOTALL)


def interpolate(value: Any, environ: Mapping[str, str], key_path: KeyPath = ()) -> Any:
    """``value`` with every string expanded; dicts and lists are walked recursively.

    ``key_path`` is where ``value`` sits in the file; an error carries it (plus
    the keys below) as its own ``key_path``.
    """
    if isinstance(value, str):
        return _expand(value, environ, key_path)
    if isinstance(value, dict):
        return {
            name: interpolate(item, environ, (*key_path, str(name))) for name, item in value.items()
        }
    if isinstance(value, list):
        return [interpolate(item, environ, (*key_path, index)) for index, item in enumerate(value)]
    return value


def _expand(text: str, environ: Mapping[str, str], key_path: KeyPath) -> str:
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        body = match.group(1)
        reference = _REFERENCE.match(body) if body is not None else None
        if reference is None:
            raise ConfigurationError(
                key_path=key_path,
                problem=f"malformed reference {token!r}; write ${{NAME}} or ${{NAME:-default}} "
                "(and $${ for a literal ${)",
                details={"key": format_key_path(key_path)},
            )
        name, default = reference.group(1), reference.group(2)
        found = environ.get(name)
        if found is not None and (found or default is None):
            return found
        if default is not None:
            return default  # ${NAME:-x}: unset *or empty* uses the default, as in a shell
        raise ConfigurationError(
            key_path=key_path,
            problem=f"environment variable {name} is not set "
            f"(write ${{{name}:-default}} to give a default)",
            details={"key": format_key_path(key_path), "variable": name},
        )

    return _TOKEN.sub(replace, text)
