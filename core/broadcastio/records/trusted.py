"""Building frozen records from values already checked, at the cost of a plain object.

The send path builds two to four records per message (the provider's result,
the final result, an attempt and a trace). A frozen attrs class cannot set its
fields with ordinary attribute stores: its ``__setattr__`` raises, so attrs'
``__init__`` goes through ``object.__setattr__`` once per field, and that call
costs several times a store. Those builds were about half the cost of a send
(issue 15).

``trusted_builder(cls)`` makes a private subclass of ``cls`` that adds no
slots and puts back ``object``'s own ``__init__``, ``__setattr__`` and
``__delattr__``, and a function that makes a blank one of those, stores the
fields directly and turns it into a ``cls`` as its last store (assigning
``__class__`` between two classes of the same layout, which Python allows).
What the caller gets is an ordinary, frozen ``cls``, equal to what
``cls(...)`` builds from the same values, without running its converters or
validators.

So a builder is for broadcastio's own code and values already checked or
built by it: a tuple where the field holds a tuple, a dict the record may keep.
Public constructors keep validating. Tests compare what the builders make with
what the public constructors make.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = ["trusted_builder"]

T = TypeVar("T")

# Names the generated builder uses itself, which a field must not shadow.
_BUILDER_NAMES = ("blank", "record", "record_class")


def trusted_builder(cls: type[T]) -> Callable[..., T]:
    """A callable building ``cls`` from every attrs field, by position, unchecked.

    It takes the fields in ``attrs.fields(cls)`` order (pinned by tests, since
    the send path calls it positionally) and sets each one as given.
    """
    if not attrs.has(cls) or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} must be a slotted attrs class")
    names = []
    for field in attrs.fields(cls):
        if not field.init or field.alias != field.name or field.name in _BUILDER_NAMES:
            raise TypeError(
                f"{cls.__name__}.{field.name} must be an init argument of its name, "
                f"and none of {', '.join(_BUILDER_NAMES)}"
            )
        names.append(field.name)
    # The blank: a subclass of the same layout (no slots of its own) with
    # object's own attribute and init slots, so stores to it are plain stores.
    blank = type(
        f"_Blank{cls.__name__}",
        (cls,),
        {
            "__slots__": (),
            "__module__": cls.__module__,
            "__doc__": f"A {cls.__name__} being built (see {__name__}); never seen outside.",
            "__init__": object.__init__,
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
        },
    )
    # Generated like attrs' own __init__, so each field is one attribute store.
    lines = [f"def build_{cls.__name__}({', '.join(names)}):"]
    lines.append("    record = blank()")
    lines += [f"    record.{name} = {name}" for name in names]
    lines.append("    record.__class__ = record_class")
    lines.append("    return record")
    namespace: dict[str, Any] = {"blank": blank, "record_class": cls}
    code = compile("\n".join(lines), f"<trusted {cls.__name__} builder>", "exec")
    exec(code, namespace)  # noqa: S102 - names come from attrs fields, not input
    builder: Callable[..., T] = namespace[f"build_{cls.__name__}"]
    builder.__doc__ = f"A {cls.__name__} of checked values, by position (see {__name__})."
    return builder
