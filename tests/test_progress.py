"""Console progress: one updating line per step in a terminal, few lines in a log."""

from __future__ import annotations

import io

from qmsprint.progress import ConsoleProgress, step_of

SIZING = [f"simulated {m}: {k} agents per arm x {w} weeks" for k in (10, 20, 40, 60) for w in (4, 8, 12)
          for m in ("CSAT", "NPS", "First contact resolution", "Repeat contacts")]  # fmt: skip


def _run(prog: ConsoleProgress) -> None:
    prog("estimating the baseline", 0.0)
    for i, message in enumerate(SIZING):
        prog(message, (i + 1) / (len(SIZING) + 1))
    prog("design done", 1.0)


def test_the_sizing_is_one_updating_line_in_a_terminal():
    out = io.StringIO()
    _run(ConsoleProgress(out, tty=True))
    text = out.getvalue()
    lines = text.split("\n")
    assert len(SIZING) == 48
    assert len(lines) == 4 and lines[-1] == ""  # baseline, the sizing, done: three lines, each ended
    sizing = lines[1]
    assert sizing.count("\r\x1b[K") == len(SIZING) - 1  # 48 messages rewrite one line in place
    assert sizing.rsplit("\r\x1b[K", 1)[1].endswith("Repeat contacts: 60 agents per arm x 12 weeks")
    assert lines[2].endswith("design done")


def test_without_a_terminal_repeated_steps_are_not_printed_each_time():
    out = io.StringIO()
    _run(ConsoleProgress(out, tty=False))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines  # the first message of each step (the rest within 10 s), and the last
    assert "\r" not in out.getvalue()
    assert lines[1].endswith("simulated CSAT: 10 agents per arm x 4 weeks") and lines[2].endswith("design done")


def test_close_ends_the_open_line_before_other_output():
    out = io.StringIO()
    prog = ConsoleProgress(out, tty=True)
    prog("fitting csat", 0.3)
    prog.close()
    prog.close()  # twice is harmless
    assert out.getvalue().endswith("fitting csat\n") and out.getvalue().count("\n") == 1
    assert step_of("still sampling csat (10 s)") == "still" and step_of("") == ""


def test_library_notices_are_hidden_and_other_warnings_are_not(tmp_path) -> None:
    import os
    import subprocess
    import sys

    def env(name: str) -> dict[str, str]:  # ArviZ prints its notice once a day, stamped in the user's cache
        return os.environ | {"XDG_CACHE_HOME": str(tmp_path / name)}

    code = (
        "import warnings\n"
        "from qmsprint.progress import hide_library_notices\n"
        "hide_library_notices()\n"
        "import arviz\n"  # prints its 'major refactor' FutureWarning on import
        "warnings.warn('PyTensor could not link to a BLAS installation. Operations ...', UserWarning)\n"
        "warnings.warn('a warning about the pilot', UserWarning)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=True, env=env("a")
    )
    assert "refactor" not in shown.stderr
    assert "BLAS" not in shown.stderr
    assert "a warning about the pilot" in shown.stderr
    # without the filters the ArviZ notice is printed (the test above would pass vacuously otherwise)
    plain = subprocess.run(
        [sys.executable, "-W", "default", "-c", "import arviz"], capture_output=True, text=True, env=env("b")
    )
    assert "refactor" in plain.stderr
