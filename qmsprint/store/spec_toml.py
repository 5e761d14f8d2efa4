"""The spec as TOML, for runs of specs built in code (which have no experiment file to keep)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from qmsprint.spec import Spec, spec_to_dict


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if not (isinstance(v, float) and not math.isfinite(v)) else ("nan" if v != v else "inf")
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(v)):
        return str(v)  # a TOML date
    return json.dumps(str(v), ensure_ascii=False)


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def spec_to_toml(spec: Spec) -> str:
    """The spec as TOML (for specs built in code, which have no experiment file to keep)."""
    d = {k: v for k, v in spec_to_dict(spec).items() if v is not None}
    scalars = {k: v for k, v in d.items() if not isinstance(v, dict) and not (k == "metrics")}
    lines = ["# experiment file regenerated from the spec as run (defaults filled in)"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items()]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"\n[{_toml_key(k)}]")
            lines += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in v.items() if b is not None]
    for m in d.get("metrics", []):
        lines.append("\n[[metrics]]")
        lines += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in m.items() if b is not None]
    return "\n".join(lines) + "\n"
