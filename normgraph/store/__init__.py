"""Graph stores: the ``GraphStore`` protocol and a registry of backends by name.

A backend is registered as ``name -> "module:factory"``; the module is imported only when that backend is
opened, so a backend's heavy dependencies (pyoxigraph, the neo4j driver) load only when it is used. A factory
is called as ``factory(path, read_only=...)`` and returns a ``GraphStore``.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from normgraph.errors import InvalidInput
from normgraph.store.base import ANSWERING_STATES, GraphStore, UpsertResult

__all__ = [
    "ANSWERING_STATES",
    "GraphStore",
    "UpsertResult",
    "available_backends",
    "open_store",
    "register_backend",
]

_BACKENDS: dict[str, str] = {
    "oxigraph": "normgraph.store.oxigraph:OxigraphStore",
}


def register_backend(name: str, target: str) -> None:
    """Register (or replace) a backend: ``target`` is ``"package.module:factory"``."""
    if ":" not in target:
        raise InvalidInput(f"backend target must be 'module:factory', not {target!r}", {"target": target})
    _BACKENDS[name] = target


def available_backends() -> list[str]:
    """Names of the registered backends, sorted."""
    return sorted(_BACKENDS)


def open_store(name: str, path: Path, *, read_only: bool = False) -> GraphStore:
    """Open the store backend ``name`` at ``path``."""
    try:
        target = _BACKENDS[name]
    except KeyError:
        known = available_backends()
        raise InvalidInput(
            f"unknown store backend {name!r}; known backends: {', '.join(known)}", {"store": name, "known": known}
        ) from None
    module_name, _, factory_name = target.partition(":")
    factory = getattr(import_module(module_name), factory_name)
    opened: GraphStore = factory(Path(path), read_only=read_only)
    return opened
