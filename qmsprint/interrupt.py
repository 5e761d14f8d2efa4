"""Stop a long run on Ctrl+C (SIGINT) or SIGTERM, promptly, whatever library code is running.

Python turns SIGINT into ``KeyboardInterrupt`` in the main thread, but a ``KeyboardInterrupt``
raised while a C extension looks something up in a dict (numba's type inference does this all
the time while nutpie compiles a model) is silently dropped, and SIGTERM ends the process
without any clean-up. :func:`stop_on_signals` makes both signals raise ``KeyboardInterrupt`` and,
should the exception get lost, raises it again every :data:`RETRY_SECONDS` until the guarded
block has been left; after ``grace`` seconds the process exits with :data:`EXIT_INTERRUPTED`.
Sampling threads (nutpie runs its chains in native threads) are abandoned with the process.

Writers stage everything in hidden temporary files and folders (:mod:`qmsprint.store.atomic`),
so an interrupted run leaves no run folder behind.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report an interrupted command
RETRY_SECONDS = 0.3
GRACE_SECONDS = 15.0


class _State:
    def __init__(self) -> None:
        self.requested: int | None = None  # the signal received
        self.done = threading.Event()  # the guarded block was left
        self.watchdog: threading.Thread | None = None


@contextlib.contextmanager
def stop_on_signals(grace: float = GRACE_SECONDS) -> Iterator[_State]:
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt`` in the main thread, insistently.

    Parameters
    ----------
    grace
        Seconds after the first signal before the process exits with :data:`EXIT_INTERRUPTED`
        even if the block is still running.

    Yields
    ------
    state
        ``state.requested`` is the signal number once one was received.

    Notes
    -----
    Only usable from the main thread (signal handlers live there); elsewhere the block runs
    without them.

    """
    state = _State()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def watchdog() -> None:
        deadline = time.monotonic() + grace
        while not state.done.wait(RETRY_SECONDS):
            if time.monotonic() >= deadline:
                sys.stderr.write("interrupted: stopping now\n")
                sys.stderr.flush()
                os._exit(EXIT_INTERRUPTED)
            _thread.interrupt_main(signal.SIGINT)  # runs `handler` again in the main thread

    def handler(signum: int, frame: object) -> None:  # noqa: ARG001
        if state.done.is_set():
            return
        if state.requested is None:
            state.requested = signum
            state.watchdog = threading.Thread(target=watchdog, name="qmsprint-interrupt", daemon=True)
            state.watchdog.start()
        raise KeyboardInterrupt

    def unraisable(info: sys.UnraisableHookArgs) -> None:
        if state.requested is not None and isinstance(info.exc_value, KeyboardInterrupt):
            return  # an interrupt dropped inside a callback: `watchdog` raises it again
        hook(info)

    hook = sys.unraisablehook
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    sys.unraisablehook = unraisable
    try:
        yield state
    finally:
        state.done.set()
        if state.watchdog is not None:  # a retry it sent meanwhile reaches `handler`, which now ignores it
            state.watchdog.join()
        for sig, old in previous.items():
            signal.signal(sig, old)
        sys.unraisablehook = hook


def exit_now(code: int = EXIT_INTERRUPTED) -> None:
    """End the process at once after an interrupt: exit handlers run, the final garbage collection does not.

    Collecting the compiled models' graphs at interpreter shutdown takes seconds, which a user who
    pressed Ctrl+C (or a service manager sending SIGTERM) should not wait for.
    """
    import atexit

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    os._exit(code)
