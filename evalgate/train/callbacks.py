"""Trainer callbacks: a rich progress bar with the live loss, and a graceful Ctrl-C.

The first Ctrl-C does not kill the step in flight: the step finishes, a checkpoint is written
and training stops, so `evalgate train --resume` continues from exactly there. A second Ctrl-C
aborts at once (the last periodic checkpoint then serves `--resume`), as does a kill.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from transformers import TrainerCallback


class Interrupted(KeyboardInterrupt):
    """Training stopped on request after saving a checkpoint; `--resume` continues it."""

    def __init__(self, stage: str, step: int) -> None:
        super().__init__(f"{stage} stopped at step {step}; a checkpoint was saved")
        self.stage = stage
        self.step = step


class StopRequest(TrainerCallback):
    """Stops training after the current step with a checkpoint when `request()` was called."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.stopped_at: int | None = None

    def request(self) -> None:
        self.requested.set()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.requested.is_set() and state.global_step < state.max_steps:
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
        return control


@contextlib.contextmanager
def graceful_interrupt(stop: StopRequest, console: Any = None) -> Iterator[None]:
    """Route the first SIGINT to `stop.request()` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.requested.is_set():
            raise KeyboardInterrupt
        stop.request()
        if console is not None:
            console.print("[yellow]stopping after this step and saving a checkpoint "
                          "(Ctrl-C again to abort now)[/]")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class ProgressBar(TrainerCallback):
    """One rich progress task per stage: steps done of max_steps, the latest loss (and for
    preference stages the reward margin), continuing from the checkpoint's step on resume."""

    def __init__(self, progress: Any, description: str) -> None:
        self.progress = progress
        self.description = description
        self.task = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.progress is not None:
            self.task = self.progress.add_task(self.description, total=state.max_steps,
                                               completed=state.global_step, info="")
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.task is not None:
            self.progress.update(self.task, completed=state.global_step)
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None,
               **kwargs: Any) -> Any:
        if self.task is None or not logs or "loss" not in logs:
            return control
        info = f"loss {float(logs['loss']):.4f}"
        if "rewards/margins" in logs:
            info += f" · margin {float(logs['rewards/margins']):+.3f}"
        self.progress.update(self.task, info=info)
        return control
