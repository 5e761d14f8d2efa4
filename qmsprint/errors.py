"""Every exception qmsprint raises on purpose, in one place.

Each error carries a list of :class:`Problem` records so that *all* problems in an input are
reported at once, with where they are (key path, column, rows) and what was expected.
The CLI maps each error class to a distinct exit code so schedulers can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in an input.

    Parameters
    ----------
    where
        Key path (``metrics[1].name``), column name or file the problem is in.
    message
        What is wrong and what was expected.
    rows
        Example row numbers (1-based, as a spreadsheet shows them), if any.
    count
        Number of offending rows/values, if known.
    examples
        A few offending values, as text.

    """

    where: str
    message: str
    rows: tuple[int, ...] = ()
    count: int | None = None
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        if self.count is not None:
            text += f" ({self.count} row{'s' if self.count != 1 else ''}"
            if self.rows:
                text += ", e.g. row " + ", ".join(str(r) for r in self.rows[:5])
            if self.examples:
                text += "; values " + ", ".join(repr(v) for v in self.examples[:5])
            text += ")"
        elif self.examples:
            text += " (e.g. " + ", ".join(repr(v) for v in self.examples[:5]) + ")"
        return text


class QmsprintError(Exception):
    """Base class of qmsprint's own errors."""

    exit_code: int = 1

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems: list[Problem] = list(problems or [])
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [f"{self.message} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class SpecError(QmsprintError):
    """The experiment file is invalid."""

    exit_code = 2


class DataError(QmsprintError):
    """The interaction data is unreadable or invalid."""

    exit_code = 3


class ConvergenceError(QmsprintError):
    """A fit did not meet the convergence bars, so no decision is made from it."""

    exit_code = 4


class BundleError(QmsprintError):
    """A run bundle is missing, damaged, foreign or would be overwritten."""

    exit_code = 5


class DesignError(QmsprintError):
    """A pilot design request cannot be met (e.g. too few units to assign)."""

    exit_code = 6
