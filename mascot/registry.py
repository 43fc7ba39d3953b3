"""Things chosen by name (personas, backends, judges, baselines) live in a Registry.

A typo gets the closest valid name back instead of a KeyError, in the spirit of
lm-evaluation-harness's ``lm_eval/api/registry.py``. A registry of heavy implementations
(backends, judges) holds ``"module:attr"`` strings, imported by :func:`import_ref` only when one
is asked for.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that is not registered; ``str()`` lists the choices and the closest one."""

    def __init__(self, kind: str, name: str, choices: Iterable[str], where: str = ""):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(unknown_name_message(kind, name, self.choices, where))

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


def unknown_name_message(kind: str, name: str, choices: Iterable[str], where: str = "") -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    place = f"{where}: " if where else ""
    return f"{place}unknown {kind} '{name}'.{hint} Choose one of: {', '.join(choices) or '(none registered)'}."


def import_ref(ref: str) -> Any:
    """The object a ``"package.module:attr"`` string names, its module imported now: listing or
    checking a registry's names imports no implementation, and the package that registers them
    does not import its own implementations (which import it back)."""
    module, sep, attr = ref.partition(":")
    if not (sep and module and attr):
        raise ValueError(f"'{ref}' is not a 'module:attr' reference")
    return getattr(importlib.import_module(module), attr)


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = obj

    def get(self, name: str, where: str = "") -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items, where) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
