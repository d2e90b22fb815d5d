"""Building frozen records from values already checked, at the cost of a plain object.

The send path builds two to four records per message (the provider's result,
the final result, an attempt and a trace). A frozen attrs class cannot set its
fields with ordinary attribute stores: its ``__setattr__`` raises, so attrs'
``__init__`` goes through ``object.__setattr__`` once per field, and that call
costs several times a store. Those builds were about half the cost of a send
(issue 15).

``trusted_builder(cls)`` makes a private subclass of ``cls`` that adds no
slots and puts back ``object``'s own ``__setattr__``/``__delattr__``, so its
``__init__`` can store the fields directly; its last store turns the object
into a ``cls`` (assigning ``__class__`` between two classes of the same layout,
which Python allows). What the caller gets is an ordinary, frozen ``cls``,
equal to what ``cls(...)`` builds from the same values, without running its
converters or validators.

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


def trusted_builder(cls: type[T]) -> Callable[..., T]:
    """A callable building ``cls`` from every attrs field, by position, unchecked.

    It takes the fields in ``attrs.fields(cls)`` order (pinned by tests, since
    the send path calls it positionally) and sets each one as given.
    """
    if not attrs.has(cls) or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} must be a slotted attrs class")
    names = []
    for field in attrs.fields(cls):
        if not field.init or field.alias != field.name:
            raise TypeError(f"{cls.__name__}.{field.name} must be an init argument of its name")
        names.append(field.name)
    # Generated like attrs' own __init__, so each field is one attribute store.
    lines = [f"def __init__(self, {', '.join(names)}):"]
    lines += [f"    self.{name} = {name}" for name in names]
    lines.append("    self.__class__ = record_class")
    namespace: dict[str, Any] = {"record_class": cls}
    code = compile("\n".join(lines), f"<trusted {cls.__name__} builder>", "exec")
    exec(code, namespace)  # noqa: S102 - names come from attrs fields, not input
    init = namespace["__init__"]
    init.__qualname__ = f"_Trusted{cls.__name__}.__init__"
    builder = type(
        f"_Trusted{cls.__name__}",
        (cls,),
        {
            "__slots__": (),
            "__module__": cls.__module__,
            "__doc__": f"Builds a {cls.__name__} of checked values (see {__name__}).",
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__init__": init,
        },
    )
    return builder
