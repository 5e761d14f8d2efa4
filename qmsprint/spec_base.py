"""The base of every section of an experiment file: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A section of an experiment file: an unknown key is an error (a typo is not silently ignored); frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
