"""Prompts that do not fit the model's window, found before any model loads.

A prompt needs room for itself plus `max_new_tokens` in the model's window
(`max_position_embeddings`). Only the tokenizer is needed to measure that, so it is checked
when a run is planned, not when a batch fails half-way: the suite's `on_long_input` decides
what happens to an example that does not fit.

    error      the run stops (exit 2) naming the data file, the examples (id and line), their
               lengths and the three ways out
    truncate   the example's input (the suite's rendered `input`, not the system's
               instructions or shots) is cut from the end until the prompt fits; each cut
               example is recorded in the run record and counted in the report
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.util.paths import display_path

# A cut is retried a few times: re-rendering can move a token or two at the boundary.
TRUNCATE_ATTEMPTS = 4


@dataclass(frozen=True)
class Truncation:
    """One example whose input was cut: its prompt's length before and after, in tokens."""

    index: int
    before: int
    after: int


def model_window(model_path: Path) -> int | None:
    """The model's context window (`max_position_embeddings` in config.json), if it says."""
    import json

    config = Path(model_path) / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    text_config = data.get("text_config") if isinstance(data.get("text_config"), dict) else {}
    window = data.get("max_position_embeddings") or text_config.get("max_position_embeddings")
    return int(window) if isinstance(window, int) and window > 0 else None


def fit_prompts(suite: Any, inputs: Sequence[str], prompts: list[str],
                count: Callable[[str], int], rebuild: Callable[[int, str], str],
                cut: Callable[[str, int], str], window: int | None,
                max_new_tokens: int) -> list[Truncation]:
    """Check every prompt against the window; under `truncate`, replace the ones that do not
    fit in `prompts` (rebuilt from a shortened input) and return what was cut.

    `count(text)` counts tokens, `rebuild(i, input)` renders example i's prompt from an input,
    `cut(input, n)` keeps the first n tokens of an input."""
    if window is None:
        return []
    room = window - max_new_tokens
    lengths = [count(prompt) for prompt in prompts]
    too_long = [i for i, n in enumerate(lengths) if n > room]
    if not too_long:
        return []
    if suite.config.on_long_input == "error" or room <= 0:
        _refuse(suite, too_long, lengths, window, max_new_tokens, room)
    cuts = []
    for index in too_long:
        text, length = inputs[index], lengths[index]
        for _ in range(TRUNCATE_ATTEMPTS):
            keep = count(text) - (length - room)
            if keep <= 0:
                _refuse(suite, [index], lengths, window, max_new_tokens, room,
                        "the system's own prompt (instructions, shots, context) leaves no room "
                        "for the input")
            text = cut(text, keep)
            prompt = rebuild(index, text)
            length = count(prompt)
            if length <= room:
                break
        else:
            _refuse(suite, [index], lengths, window, max_new_tokens, room)
        prompts[index] = prompt
        cuts.append(Truncation(index, lengths[index], length))
    return cuts


def _refuse(suite: Any, indexes: list[int], lengths: list[int], window: int,
            max_new_tokens: int, room: int, why: str | None = None) -> None:
    dataset = suite.dataset
    shown = ", ".join(f"'{dataset.ids()[i]}' (line {dataset.line_of(i)}, {lengths[i]:,} tokens)"
                      for i in indexes[:5]) + (f" and {len(indexes) - 5} more"
                                               if len(indexes) > 5 else "")
    reason = why or (f"their prompts need more than the {room:,} tokens the model's window of "
                     f"{window:,} leaves beside max_new_tokens={max_new_tokens}")
    raise ConfigError(
        f"{len(indexes)} example(s) of suite '{suite.name}' do not fit: {shown}: {reason}",
        path=dataset.path, line=dataset.line_of(indexes[0]),
        fix=f"shorten those inputs, lower `generation.max_new_tokens`, or set "
            f"`on_long_input: truncate` in {display_path(suite.path)} (cut inputs are "
            "recorded and counted in the report)")
