"""The `evalgate` command: one module per command group, the parser and exit codes in
`main.py`, the consoles in `output.py`."""

from evalgate.cli.main import main

__all__ = ["main"]
