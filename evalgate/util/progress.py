"""One look for long work: rich progress bars on a terminal, plain timed lines everywhere else.

A redirected log (`evalgate train > train.log 2>&1`, a CI job) cannot show a live bar: rich
would print nothing until the end and then the bars' last state. There `make_progress` returns
`PlainProgress`, the same `rich.progress.Progress` interface (add_task, update, advance,
remove_task, console, context manager), which prints one flushed line per running task every
`EVALGATE_PROGRESS_INTERVAL` seconds (default 10) and one line when a task finishes, and
nothing once it is closed.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from evalgate.errors import ConfigError
from evalgate.util.terminal import make_console

INTERVAL_ENV = "EVALGATE_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0

stderr_console = make_console(stderr=True)


def make_progress(console: Console | None = None) -> Progress:
    """Rich bars when `console` (default: stderr) is a terminal, else `PlainProgress`."""
    console = console or stderr_console
    if not console.is_terminal:
        return PlainProgress(console, interval=progress_interval())
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def progress_interval() -> float:
    """Seconds between plain progress lines: `EVALGATE_PROGRESS_INTERVAL`, default 10."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{INTERVAL_ENV}={raw!r} is not a positive number of seconds",
                          key=INTERVAL_ENV, fix=f"set it to e.g. 10, or unset it "
                          f"(default {DEFAULT_INTERVAL:g})")
    return value


class PlainProgress(Progress):
    """rich's task bookkeeping (speed, ETA) printed as plain, flushed lines at a steady pace."""

    def __init__(self, console: Console, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__(console=console, auto_refresh=False)
        self.interval = interval
        self._base: dict[TaskID, float] = {}  # completed when the task (re)started: a resume
        self._emit_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._reported: set[TaskID] = set()  # tasks whose last line was printed

    # -- the display: a timer thread instead of rich's Live ------------------------------------
    def start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="evalgate-progress",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop for good: no line is printed after this returns (nothing stale at the end)."""
        with self._emit_lock:
            self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def refresh(self) -> None:
        """Nothing to redraw: lines are printed by the timer and when a task finishes."""

    # -- task changes: the same calls as rich's, plus a line when a task ends ------------------
    def add_task(self, description: str, start: bool = True, total: float | None = 100.0,
                 completed: int = 0, visible: bool = True, **fields: Any) -> TaskID:
        task_id = super().add_task(description, start=start, total=total, completed=completed,
                                   visible=visible, **fields)
        with self._lock:
            self._base[task_id] = completed
        return task_id

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        self._report_if_finished(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._report_if_finished(task_id)

    def reset(self, task_id: TaskID, **kwargs: Any) -> None:
        super().reset(task_id, **kwargs)
        with self._lock:
            self._reported.discard(task_id)  # it runs again, so it will end again
            self._base[task_id] = self._tasks[task_id].completed

    def remove_task(self, task_id: TaskID) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
            line = None
            if task is not None and task_id not in self._reported and task.visible:
                line = _ended_line(task)
            super().remove_task(task_id)
            self._reported.discard(task_id)
            self._base.pop(task_id, None)
        if line:
            self._emit([line])

    def _report_if_finished(self, task_id: TaskID) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or not task.finished or task_id in self._reported:
                return
            self._reported.add(task_id)
            line = _finished_line(task, self._base.get(task_id, 0)) if task.visible else None
        if line:
            self._emit([line])

    def _run(self) -> None:
        while not self._wake.wait(self.interval):
            self.tick()

    def tick(self) -> None:
        """Print one line per running, visible task (called by the timer every `interval`)."""
        with self._lock:
            lines = [_running_line(task, self._base.get(task.id, 0))
                     for task in self._tasks.values()
                     if task.visible and task.started and not task.finished]
        self._emit(lines)

    def _emit(self, lines: list[str]) -> None:
        with self._emit_lock:
            if self._closed:
                return
            for line in lines:
                # rich flushes the file after each print, so `tail -f` sees the line at once
                self.console.print(line, markup=False, highlight=False, emoji=False,
                                   soft_wrap=True)


def _running_line(task: Task, base: float) -> str:
    """Rate and ETA from the average since the task started (steps done before a resume, `base`,
    do not count): steady, and defined however long a single step takes."""
    parts = [f"{task.description}:"]
    elapsed = task.elapsed or 0.0
    if task.total is None:
        if task.completed:
            parts.append(f"{_count(task.completed)} done ·")
        parts.append(f"running {_duration(elapsed)}")
    else:
        parts.append(f"{_count(task.completed)}/{_count(task.total)}")
        rate = (task.completed - base) / elapsed if elapsed else None
        parts.append(f"· {_rate(rate)}")
        remaining = task.total - task.completed
        eta = _duration(remaining / rate) if rate else "?"
        parts.append(f"· elapsed {_duration(elapsed)} · ETA {eta}")
    return _with_info(" ".join(parts), task)


def _finished_line(task: Task, base: float) -> str:
    took = task.finished_time if task.finished_time is not None else (task.elapsed or 0.0)
    text = (f"{task.description}: done {_count(task.completed)}/{_count(task.total or 0)} "
            f"in {_duration(took)}")
    if (task.total or 0) > 1:  # a rate of one step (a model loaded) says nothing
        text += f" · {_rate((task.completed - base) / took if took else None)}"
    return _with_info(text, task)


def _ended_line(task: Task) -> str:
    """A task removed before it finished (a spinner around a step, or an interrupted one)."""
    done = "" if task.total is None else f" at {_count(task.completed)}/{_count(task.total)}"
    return _with_info(f"{task.description}: ended{done} after {_duration(task.elapsed or 0.0)}",
                      task)


def _with_info(text: str, task: Task) -> str:
    info = str(task.fields.get("info") or "").strip()
    return f"{text} · {info}" if info else text


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _rate(per_second: float | None) -> str:
    if not per_second:
        return "–/s"
    return f"{per_second:.2f}/s" if per_second < 10 else f"{per_second:.0f}/s"


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=max(0, round(seconds))))
