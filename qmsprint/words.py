"""Words every layer's messages share: a count with its noun in the right number.

A leaf module (it imports nothing of qmsprint), so that the data layer's problems, the models'
progress and the app's pages count alike.
"""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun in the right number: ``counted(1, "warning")`` -> ``1 warning``, 3 -> ``3 warnings``.

    ``plural`` for nouns that do not take an ``s`` (default: ``noun + "s"``); the count is written
    with thousands separators.
    """
    word = noun if n == 1 else (plural if plural is not None else noun + "s")
    return f"{n:,} {word}"
