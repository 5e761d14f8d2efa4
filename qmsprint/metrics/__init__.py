"""The metric registry: one module per outcome metric, one line per metric here.

Adding a metric is one new module (a :class:`~qmsprint.metrics.base.MetricDef` subclass and a
module-level ``METRIC`` instance) and its line in :data:`BUILTIN`; a metric defined outside the
package is added with :func:`register`. Unknown names raise an error listing the valid ones.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from qmsprint.metrics.base import BINARY_VALUES, MetricDef, Scale, WeeklyView

__all__ = [
    "BINARY_VALUES",
    "MetricDef",
    "Scale",
    "WeeklyView",
    "get",
    "names",
    "register",
    "register_file",
    "registry",
    "unregister",
]

# registry lines: metric name -> module that defines it (in the order shown to users)
BUILTIN = {
    "csat": "qmsprint.metrics.csat",
    "nps": "qmsprint.metrics.nps",
    "fcr": "qmsprint.metrics.fcr",
    "repeat_contact": "qmsprint.metrics.repeat_contact",
    "handle_time": "qmsprint.metrics.handle_time",
}

_REGISTRY: dict[str, MetricDef] = {}


def _load_builtins() -> None:
    if _REGISTRY:
        return
    loaded: dict[str, MetricDef] = {}  # all or nothing: a failed import leaves no partial registry
    for name, module in BUILTIN.items():
        metric = importlib.import_module(module).METRIC
        if metric.name != name:  # pragma: no cover - a registry line that names the wrong module
            raise RuntimeError(f"{module} defines metric {metric.name!r}, registered as {name!r}")
        loaded[name] = metric
    _REGISTRY.update(loaded)


def register(metric: MetricDef | str) -> MetricDef:
    """Add a metric (an instance, or the dotted path of a module with a ``METRIC``); returns it."""
    _load_builtins()
    if isinstance(metric, str):
        metric = getattr(importlib.import_module(metric), "METRIC", None)
        if not isinstance(metric, MetricDef):
            raise TypeError("the module defines no METRIC (a MetricDef instance)")
    _REGISTRY[metric.name] = metric
    return metric


def register_file(path: str | Path) -> MetricDef:
    """Register the ``METRIC`` of a Python file (a metric module outside any package); returns it."""
    path = Path(path).resolve()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    module_name = f"qmsprint_metric_{path.stem}_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{path} is not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
    metric = getattr(module, "METRIC", None)
    if not isinstance(metric, MetricDef):
        raise TypeError(f"{path.name} defines no METRIC (a MetricDef instance)")
    return register(metric)


def unregister(name: str) -> None:
    """Remove a registered metric (tests and plug-ins); built-ins come back on the next lookup."""
    _REGISTRY.pop(name, None)
    if name in BUILTIN:
        _REGISTRY.clear()


def registry() -> dict[str, MetricDef]:
    """Every registered metric by name, built-ins first."""
    _load_builtins()
    return dict(_REGISTRY)


def names() -> tuple[str, ...]:
    """Names of every registered metric."""
    return tuple(registry())


def get(name: str) -> MetricDef:
    """The metric called ``name``.

    Raises
    ------
    KeyError
        For an unknown name, listing the registered ones.

    """
    reg = registry()
    if name not in reg:
        raise KeyError(f"unknown metric {name!r}; expected one of {', '.join(reg)}")
    return reg[name]
