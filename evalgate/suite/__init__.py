"""Suites: held-out data pinned by hash, an input template, generation settings and criteria.

`load.py` reads and validates a suite file, `criteria.py` holds the criteria users write (each
builds its metric)."""

from evalgate.suite.load import GenerationConfig, Suite, SuiteConfig, load_suite

__all__ = ["GenerationConfig", "Suite", "SuiteConfig", "load_suite"]
