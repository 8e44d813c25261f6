"""The registry of promoted adapters: versions, aliases and the audit log (`store.py`)."""

from evalgate.registry.store import (
    DEFAULT_ALIAS,
    REGISTRY_DIR,
    Entry,
    Registry,
    move_alias,
    safe_name,
)

__all__ = ["DEFAULT_ALIAS", "REGISTRY_DIR", "Entry", "Registry", "move_alias", "safe_name"]
