"""Progress reporting shared by the CLI and the app.

Long operations take an optional ``progress`` callable ``progress(message, fraction)``;
``fraction`` is the overall share done in [0, 1]. The library never prints by itself.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

Progress = Callable[[str, float], None]


def silent(message: str, fraction: float) -> None:  # noqa: ARG001
    """A progress callback that ignores everything."""


class ConsoleProgress:
    """Progress lines on stderr with elapsed seconds, e.g. ``[  12.3s  40%] fitting csat``."""

    def __init__(self, stream=None) -> None:
        self.start = time.perf_counter()
        self.stream = stream or sys.stderr

    def __call__(self, message: str, fraction: float) -> None:
        """Print one progress line."""
        elapsed = time.perf_counter() - self.start
        pct = f"{100 * max(0.0, min(1.0, fraction)):3.0f}%"
        print(f"[{elapsed:7.1f}s {pct}] {message}", file=self.stream, flush=True)
