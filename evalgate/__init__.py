"""evalgate: pass criteria first, cheap baselines as first-class competitors, and a statistical
gate that decides whether a fine-tune ships."""

__version__ = "0.1.0"

from evalgate.errors import ConfigError, EvalgateError, EvalgateWarning, RunError  # noqa: E402

__all__ = ["ConfigError", "EvalgateError", "EvalgateWarning", "RunError", "__version__"]
