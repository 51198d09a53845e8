"""Progress of a long run on stderr (`Progress`, #11): items done / total, cache hits, spend so far,
what is being sent.

It renders the core's `progress.Tick`s: adapters (`review`, `pytest --assist`) hand it to the Assistant
as the callback. Its mode is decided once from the stream and the environment:

- ``tty``: stderr is a terminal and TERM is not dumb → one status line redrawn in place with ``\\r`` and
  padding (no cursor escapes; colour only where `console.use_color` allows it), erased when the run ends
  so it never mixes with the results printed after it. A timer redraws it every second (elapsed time).
- ``lines``: stderr is not a terminal but ``CI`` is set (a CI log), or the terminal is dumb → a plain line
  at most every `interval` seconds and only once the run has lasted that long, then a final line.
- ``off``: anything else (a pipe, a file, pre-commit capturing output) → nothing at all.

Progress never goes to stdout, where `--format` output is written. The file names it shows pass through
`logsafe.inert_line`. Stdlib only: a maintained library was weighed: `rich.progress` imports in ~33 ms
(and is only a transitive dependency, of bandit), and neither it nor tqdm has the throttled-plain-lines
mode a CI log needs; what we draw is a single line.

A module of its own, apart from `console.py`, so that `symphony-assist --help` (which imports the
console) does not import `threading` or compile this code (cli/__init__.py's docstring has the figures).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from ..logsafe import inert_line
from .console import Console, use_color

if TYPE_CHECKING:  # annotations only: progress.py's dataclasses are not needed to draw
    from ..progress import Tick

__all__ = ["Progress", "progress_mode", "stderr_progress"]


def _ci(env: Mapping[str, str]) -> bool:
    value = env.get("CI", "").strip().lower()
    return value not in ("", "0", "false", "no")


def progress_mode(stream: TextIO, env: Mapping[str, str] | None = None) -> str:
    """``tty``, ``lines`` or ``off`` for `stream` (see the module docstring)."""
    env = os.environ if env is None else env
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty and isatty())
    except (OSError, ValueError):  # a closed or detached stream
        tty = False
    if tty:
        return "lines" if env.get("TERM") == "dumb" else "tty"
    return "lines" if _ci(env) else "off"


def _usd(micro: int) -> str:
    return f"${micro / 1e6:,.4f}"  # as `stats` prints it: a run's spend is mostly fractions of a cent


class Progress:
    """A `ProgressCallback` that shows Ticks on `stream` (stderr). Use `stderr_progress` to get one.

    `clock`, `width` and `timer` exist for tests; `timer=False` redraws on Ticks only.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        noun: str = "items",
        mode: str | None = None,
        color: bool | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
        timer: bool = True,
    ) -> None:
        self.stream = stream
        self.noun = noun
        self.mode = mode if mode is not None else progress_mode(stream)
        self.color = use_color(stream) if color is None else color
        self.interval = interval
        self._clock = clock
        self._width = width
        self._timer_wanted = timer and self.mode != "off"
        self._lock = threading.RLock()
        self._tick: Tick | None = None
        self._start: float | None = None
        self._last_line: float | None = None  # lines mode: when the last line was written
        self._shown = 0  # tty mode: visible width of the line on screen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------ callback
    def __call__(self, tick: Tick) -> None:
        if self.mode == "off":
            return
        with self._lock:
            if self._start is None or (self._tick is not None and self._tick.finished):
                self._start = self._clock()  # a new request: ask_many or a second ask in the run
                self._last_line = None
            self._tick = tick
            if tick.finished:
                self._finish()
                return
            self._draw()
        if self._timer_wanted and self._thread is None:
            self._thread = threading.Thread(target=self._tick_timer, name="symphony-assist-progress", daemon=True)
            self._thread.start()

    def wrap(self, write: Callable[[str], None]) -> Callable[[str], None]:
        """`write` (a notice printer on the same terminal) that first erases the status line."""

        def wrapped(text: str) -> None:
            with self._lock:
                self.clear()
                write(text)

        return wrapped

    def clear(self) -> None:
        """Erase the status line (tty mode); it comes back on the next Tick or timer redraw."""
        with self._lock:
            if self._shown:
                self._write("\r" + " " * self._shown + "\r")
                self._shown = 0

    def close(self) -> None:
        """Stop the timer and erase the line. Safe to call more than once."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        self.clear()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ drawing
    def line(self, tick: Tick, elapsed: float) -> str:
        """The status text for `tick` (no colour, no control characters)."""
        parts = [f"{tick.done}/{tick.total} {self.noun}", f"{tick.cached} cached"]
        if tick.local:
            parts.append(f"{tick.local} local")
        parts.append(f"{_usd(tick.spent_micro)} spent")
        parts.append(f"{elapsed:.0f}s")
        text = "symphony-assist: " + ", ".join(parts)
        if tick.finished:
            return text + " - done"
        if tick.sending:
            first = inert_line(tick.sending[0])  # a file name: the repository chooses it
            more = f" (+{len(tick.sending) - 1} more)" if len(tick.sending) > 1 else ""
            text += f" - sending {first}{more}"
        return text

    def _elapsed(self) -> float:
        return self._clock() - (self._start if self._start is not None else self._clock())

    def _draw(self) -> None:
        tick = self._tick
        if tick is None or tick.finished:
            return
        now = self._clock()
        text = self.line(tick, self._elapsed())
        if self.mode == "lines":
            since = self._last_line if self._last_line is not None else self._start
            if since is not None and now - since >= self.interval:
                self._write(text + "\n")
                self._last_line = now
            return
        width = max(20, self._columns() - 1)  # never wrap: a wrapped line cannot be redrawn with \r
        if len(text) > width:
            text = text[: width - 1] + "…"
        pad = " " * max(0, self._shown - len(text))
        painted = f"\x1b[2m{text}\x1b[0m" if self.color else text
        self._write("\r" + painted + pad)
        self._shown = len(text)

    def _finish(self) -> None:
        tick = self._tick
        if self.mode == "lines":
            if tick is not None and self._last_line is not None:  # something was printed: say how it ended
                self._write(self.line(tick, self._elapsed()) + "\n")
            self._last_line = None
        else:
            self.clear()
        self._start = None

    def _columns(self) -> int:
        if self._width is not None:
            return self._width
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (OSError, ValueError, AttributeError):
            return 80

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.mode = "off"  # stderr went away: stop drawing, never fail the run

    def _tick_timer(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                if self.mode == "off":
                    return
                self._draw()


def stderr_progress(console: Console | None = None, noun: str = "items") -> Progress | None:
    """A Progress on the console's stderr (colour as the console decided), or None when it would be off."""
    stream = console.err if console is not None else sys.stderr
    mode = progress_mode(stream)
    if mode == "off":
        return None
    color = console.color_err if console is not None else None
    return Progress(stream, noun=noun, mode=mode, color=color)
