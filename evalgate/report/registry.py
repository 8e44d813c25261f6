"""Rich rendering of the registry: every name, version and alias with who promoted it when."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from evalgate.util.paths import display_path


def render_registry(registry) -> Table | Text:
    if not registry.names():
        return Text(f"{display_path(registry.root)}/ holds no adapter yet: only a PROMOTE verdict "
                    "puts one there (`evalgate gate ADAPTER --promote`)")
    table = Table(title=f"registry: {display_path(registry.root)}/", title_justify="left",
                  header_style="bold")
    for column in ("name", "version", "aliases", "candidate", "run", "promoted"):
        table.add_column(column)
    for name in registry.names():
        aliases = registry.aliases(name)
        for version in registry.versions(name):
            info = registry.entry_info(name, version)
            here = ", ".join(a for a, v in aliases.items() if v["version"] == version)
            table.add_row(name, version, Text(here, style="bold green"),
                          candidate_text(info), str(info.get("run_id", ""))[:24],
                          f"{info['created_at']} by {info['by']}")
    return table


def candidate_text(info: dict) -> str:
    """An adapter by its hash (and whether evalgate trained it), an endpoint by reference."""
    endpoint = info.get("endpoint")
    if endpoint:
        return f"endpoint {endpoint['model']} @ {endpoint['base_url']}"
    kind = info.get("kind", "trained")
    return f"adapter {info['adapter_sha256'][:12]}" + ("" if kind == "trained" else
                                                        " (external)")
