"""Shared fixtures: a tiny random chat model built once per test session (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny import build_tiny_llama


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with a 2-layer random Llama, its trained tokenizer and a ChatML template."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))
