"""Progress reporting shared by the CLI and the app.

Long operations take an optional ``progress`` callable ``progress(message, fraction)``;
``fraction`` is the overall share done in [0, 1]. The library never prints by itself.
"""

from __future__ import annotations

import shutil
import sys
import time
import warnings
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[str, float], None]

REPEAT_SECONDS = 10.0  # without a terminal, a step's repeated messages are printed at most this often


# Notices libraries print that say nothing about the user's pilot: ArviZ announcing its next major
# version, and PyTensor's C backend missing BLAS (qmsprint compiles its models with numba, which
# does not use that backend).
LIBRARY_NOTICES = (
    (FutureWarning, r"\s*ArviZ is undergoing a major refactor"),
    (UserWarning, r"PyTensor could not link to a BLAS installation"),
)


def hide_library_notices() -> None:
    """Keep :data:`LIBRARY_NOTICES` out of the console (the CLI and the app call it; the library does not)."""
    for category, message in LIBRARY_NOTICES:
        warnings.filterwarnings("ignore", message=message, category=category)


def silent(message: str, fraction: float) -> None:  # noqa: ARG001
    """A progress callback that ignores everything."""


def step_of(message: str) -> str:
    """The step a progress message belongs to: its first word (``simulated CSAT: 10 agents`` -> ``simulated``).

    Consecutive messages of one step (the sizing's grid cells, "still sampling ...") share a line.
    """
    words = message.split()
    return words[0].rstrip(":").lower() if words else ""


class ConsoleProgress:
    """Progress on stderr with elapsed seconds and share done, e.g. ``[  12.3s  40%] fitting csat``.

    In a terminal each step is one line that updates in place (the sizing's dozens of grid cells
    are one line); a new step starts a new line. Without a terminal (logs, CI) a step's first
    message is printed, then at most one line every :data:`REPEAT_SECONDS`, and the last message.

    Parameters
    ----------
    stream
        Where to write (default: standard error).
    tty
        Whether ``stream`` is a terminal (default: asked from the stream).

    """

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.start = time.perf_counter()
        self.stream = stream or sys.stderr
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self._step: str | None = None
        self._printed_at = 0.0
        self._open = False  # a terminal line is waiting for its newline

    def _line(self, message: str, fraction: float) -> str:
        elapsed = time.perf_counter() - self.start
        pct = f"{100 * max(0.0, min(1.0, fraction)):3.0f}%"
        return f"[{elapsed:7.1f}s {pct}] {message}"

    def __call__(self, message: str, fraction: float) -> None:
        """Report one progress message."""
        line = self._line(message, fraction)
        step = step_of(message)
        same = step == self._step
        self._step = step
        now = time.perf_counter()
        if self.tty:
            width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
            if len(line) > width:
                line = line[: width - 1] + "…"
            prefix = "\r\x1b[K" if same and self._open else ("\n" if self._open else "")
            self.stream.write(prefix + line)
            self._open = True
            if fraction >= 1.0:
                self.close()
            self.stream.flush()
            return
        if same and fraction < 1.0 and now - self._printed_at < REPEAT_SECONDS:
            return
        self._printed_at = now
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """End the terminal's open line (call before printing anything else)."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
            self._step = None
