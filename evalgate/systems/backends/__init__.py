"""Backends registry: a new backend is a module with a config model and a class, plus one
`register_backend` line here (see base.py for the protocol)."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Field

from evalgate.systems.backends.base import BACKENDS, Backend, BackendKind, register_backend
from evalgate.systems.backends.local import LOCAL, LocalBackend, LocalConfig
from evalgate.systems.backends.openai import OPENAI, OpenAIBackend, OpenAIConfig

register_backend(LOCAL)
register_backend(OPENAI)


def backend_by_name(value: Any) -> Any:
    """`backend: local` is `backend: {kind: local}`."""
    return {"kind": value} if isinstance(value, str) else value


# The `backend:` block of a system (or a judge): one config model per registered backend, chosen
# by `kind`; a bare name such as `backend: local` is read as `{kind: local}` wherever the type
# is used.
BackendConfig = Annotated[Union[tuple(kind.config for kind in BACKENDS.values())],  # noqa: UP007
                          Field(discriminator="kind"), BeforeValidator(backend_by_name)]


def build_backend(system: Any, pool: Any) -> Backend:
    return BACKENDS[system.config.backend.kind].build(system, pool)


__all__ = ["BACKENDS", "Backend", "BackendConfig", "BackendKind", "LocalBackend", "LocalConfig",
           "OpenAIBackend", "OpenAIConfig", "backend_by_name", "build_backend",
           "register_backend"]
