"""A disk cache of nutpie's compiled models, so that a second process does not compile again.

nutpie compiles a PyMC model's log density and gradient through numba into a C callback; numba
cannot cache that callback itself, so every process paid the whole compile again (several seconds
per model). :func:`compile_cached` keeps the callbacks' machine code on disk:

* **Key**: a SHA-256 of the model's graph (every operation with its parameters, every constant and
  frozen data array by value, the variables' names and types, in topological order), the compile
  options, the versions of Python, numpy, numba, llvmlite, PyTensor, PyMC and nutpie, the CPU
  (numba's target triple, CPU name and features) and :data:`FORMAT`. Another model, other data,
  another library version or another machine is another key; nothing is shared across them. A
  model compiled without freezing its data (``freeze=False``: the data are inputs of its code) is
  keyed by its structure and its parameters' shapes, not by its data values, so that one entry
  serves every data set of that structure.
* **Entry**: ``<cache dir>/compiled/<key>.bin``: a header with the SHA-256 of the payload, then the
  payload (the two callbacks' object code and what nutpie needs besides: parameter names, slices
  and shapes). A file whose checksum, header or key does not match, or that fails to load, is
  never used: the model is compiled again and the entry rewritten. Entries are written to a
  temporary file and renamed, so a reader never sees half a file.
* On a hit, only the cheap parts are rebuilt from the model itself (the seeded initial-point
  function, coordinates, dims), exactly as nutpie builds them, so a cached and a fresh compile
  sample the same draws for the same seed.

Compiles run LLVM at optimization level :data:`COMPILE_OPT` (numba's default is 3) unless
``NUMBA_OPT`` is set: on the diagnosis parts of the bundled data this halves the compile's CPU
time (e.g. 13.0 -> 7.4 s) with the same gradient speed (594 vs 575 us), since the heavy loops come
already compiled from PyTensor's own numba cache.

A model whose machine code points at memory of this process (numba refers to constant arrays over
1 MB, and to non-contiguous ones, by address) cannot be cached: it is compiled every time, as before.

The cache directory is ``$QMSPRINT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/qmsprint`` or
``~/.cache/qmsprint``; ``QMSPRINT_COMPILE_CACHE=off`` turns the cache off. The least recently used
entries are removed beyond :data:`MAX_BYTES`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "MAX_BYTES", "CacheStats", "cache_dir", "compile_cached", "model_key", "stats"]

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the entry layout or the way a hit is rebuilt changes
COMPILE_OPT = 1  # LLVM optimization level of nutpie's compiles (see the module docstring)
MAGIC = b"QMSPRINT-COMPILED\n"
MAX_BYTES = 1 << 30  # entries beyond this total are removed, least recently used first
ENV_DIR = "QMSPRINT_CACHE_DIR"
ENV_SWITCH = "QMSPRINT_COMPILE_CACHE"


@dataclass
class CacheStats:
    """What the cache did in this process (for benches and tests)."""

    hits: int = 0
    misses: int = 0
    rejected: int = 0  # entries found but not trusted (corrupt, stale, failed to load)
    uncacheable: int = 0  # models whose code refers to this process's memory
    seconds_loading: float = 0.0
    seconds_compiling: float = 0.0


stats = CacheStats()


def cache_dir() -> Path | None:
    """The directory of compiled models, or None when the cache is switched off."""
    if os.environ.get(ENV_SWITCH, "").strip().lower() in {"0", "off", "false", "no"}:
        return None
    root = os.environ.get(ENV_DIR)
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "qmsprint"
    return base / "compiled"


# ------------------------------------------------------------------------------ key


def _array_digest(a: Any) -> str:
    arr = np.asarray(a)
    if arr.dtype == object:
        return "object:" + repr(arr.tolist())
    return f"{arr.dtype.str}{arr.shape}:" + hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _stable(obj: Any, depth: int = 0) -> str:
    """A text that identifies ``obj`` by value (ops by their parameters, arrays by content)."""
    if depth > 12:
        return f"<deep {type(obj).__module__}.{type(obj).__qualname__}>"
    if obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
        return repr(obj)
    if isinstance(obj, np.ndarray | np.generic):
        return _array_digest(obj)
    if isinstance(obj, np.dtype):
        return f"dtype:{obj.str}"
    if isinstance(obj, tuple | list | frozenset | set):
        items = [_stable(x, depth + 1) for x in obj]
        if isinstance(obj, frozenset | set):
            items.sort()
        return f"{type(obj).__name__}(" + ",".join(items) + ")"
    if isinstance(obj, dict):
        return "{" + ",".join(sorted(f"{_stable(k, depth + 1)}:{_stable(v, depth + 1)}" for k, v in obj.items())) + "}"
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if isinstance(obj, type):
        return f"type:{obj.__module__}.{obj.__qualname__}"
    if callable(obj) and hasattr(obj, "__qualname__") and not hasattr(obj, "__props__"):
        return f"fn:{getattr(obj, '__module__', '')}.{obj.__qualname__}"
    props = getattr(obj, "__props__", None)
    if props is not None:
        return kind + "(" + ",".join(f"{p}={_stable(getattr(obj, p, None), depth + 1)}" for p in props) + ")"
    fgraph = getattr(obj, "fgraph", None)  # scalar Composite ops: their inner graph
    if fgraph is not None and hasattr(fgraph, "toposort"):
        return kind + "[" + _graph_text(fgraph.outputs, depth + 1) + "]"
    state = getattr(obj, "__dict__", None)
    if state is not None:
        return kind + _stable({k: v for k, v in state.items() if not k.startswith("_")}, depth + 1)
    return kind + ":" + repr(obj)  # an address in the repr only makes the key unique (a miss, never a false hit)


def _graph_text(outputs: list[Any], depth: int = 0, *, shared_values: bool = True) -> str:
    """The graph of ``outputs`` as text: nodes in topological order, inputs by position or value.

    ``shared_values=False`` names shared variables by type and name only (their values are inputs
    of code compiled without freezing, not part of it).
    """
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import io_toposort

    ids: dict[Any, str] = {}
    parts: list[str] = []

    def ref(v: Any) -> str:
        if v in ids:
            return ids[v]
        if isinstance(v, Constant):
            text = f"const[{v.type}]{_stable(v.data, depth + 1)}"
        elif isinstance(v, SharedVariable):
            value = v.get_value(borrow=True)
            by_value = shared_values and isinstance(value, np.ndarray | np.generic | int | float)
            data = _stable(value, depth + 1) if by_value else "state"
            text = f"shared[{v.type}|{v.name}]{data}"
        else:
            text = f"input[{v.type}|{v.name}]"
        ids[v] = f"r{len(ids)}"
        parts.append(f"{ids[v]}={text}")
        return ids[v]

    for k, node in enumerate(io_toposort([], outputs)):
        args = ",".join(ref(i) for i in node.inputs)
        outs = []
        for j, out in enumerate(node.outputs):
            ids[out] = f"n{k}.{j}"
            outs.append(f"{out.type}|{out.name}")
        parts.append(f"n{k}={_stable(node.op, depth + 1)}({args})->[{';'.join(outs)}]")
    parts.append("out=" + ",".join(ref(o) for o in outputs))
    return "\n".join(parts)


def _versions() -> str:
    import llvmlite
    import numba
    import nutpie
    import pymc
    import pytensor
    from numba.core.registry import cpu_target

    cpu = cpu_target.target_context.codegen().magic_tuple()
    libs = (sys.version, np.__version__, numba.__version__, llvmlite.__version__, pytensor.__version__)
    return repr((FORMAT, libs, pymc.__version__, nutpie.__version__, cpu))


def model_key(model: Any, freeze: bool) -> str:
    """The cache key of a PyMC model (already frozen when ``freeze``): graph, options, versions, CPU.

    A model compiled without freezing reads its ``pm.Data`` containers as inputs, so its key leaves
    their values out (and names its parameters' shapes instead): one entry serves every data set of
    that structure, e.g. every simulated pilot of a calibration or every week of a monitored pilot.
    """
    from pymc.model.fgraph import fgraph_from_model

    fgraph, _ = fgraph_from_model(model, inlined_views=True)
    h = hashlib.sha256()
    h.update(_versions().encode())
    h.update(f"freeze={freeze};check_bounds={model.check_bounds}\n".encode())
    if not freeze:
        shapes = {name: tuple(int(n) for n in shape) for name, shape in model.eval_rv_shapes().items()}
        h.update(f"shapes={sorted(shapes.items())}\n".encode())
    h.update(_graph_text(list(fgraph.outputs), shared_values=freeze).encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------ entries


class _LoadedCallback:
    """A C callback loaded from the cache: its address, and the code library that keeps it alive."""

    def __init__(self, library: Any, name: str) -> None:
        self._library = library
        self._wrapper_name = name
        self.address = library.get_pointer_to_function(name)


def _payload(compiled: Any, key: str) -> bytes | None:
    """The entry of a freshly compiled model, or None when its code is tied to this process."""
    logp, expand = compiled.compiled_logp_func, compiled.compiled_expand_func
    if logp._library.has_dynamic_globals or expand._library.has_dynamic_globals:
        return None
    entry = {
        "key": key,
        "logp": (logp._library.serialize_using_object_code(), logp._wrapper_name),
        "expand": (expand._library.serialize_using_object_code(), expand._wrapper_name),
        "n_dim": int(compiled.n_dim),
        "n_expanded": int(compiled.n_expanded),
        "shape_info": compiled.shape_info,
        "shared": list(compiled.shared_data),
    }
    return pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)


def _write(path: Path, payload: bytes) -> None:
    """Write an entry atomically (a temporary file in the same folder, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256(payload).hexdigest().encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".bin")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + digest + b"\n" + payload)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read(path: Path, key: str) -> dict[str, Any] | None:
    """An entry's contents if the file is whole and belongs to ``key``; None when absent; ValueError if damaged."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    head = len(MAGIC) + 65
    if not raw.startswith(MAGIC) or len(raw) < head or raw[head - 1 : head] != b"\n":
        raise ValueError("not a compiled-model entry")
    digest, payload = raw[len(MAGIC) : head - 1], raw[head:]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise ValueError("checksum mismatch")
    entry = pickle.loads(payload)  # noqa: S301 - our own file, verified by its checksum
    if not isinstance(entry, dict) or entry.get("key") != key:
        raise ValueError("entry of another model")
    return entry


def _initial_point_fn(model: Any, initial_points: dict[str, np.ndarray] | None) -> Any:
    """PyMC's seeded, jittered initial-point function (as nutpie makes it), run by PyTensor's Python linker.

    ``pymc.initial_point.make_initial_point_fn`` with PyTensor's FAST_COMPILE mode, whose VM linker
    imports PyTensor's C backend (and setuptools with it, about 0.3 s in a process that has not);
    the function runs once per chain, so the Python linker costs nothing that matters. Same
    expression, same random streams: the same points for the same seed.
    """
    import functools

    from pymc.initial_point import convert_str_to_rv_dict, make_initial_point_expression
    from pymc.pytensorf import compile as compile_fn
    from pymc.pytensorf import find_rng_nodes, replace_rng_nodes, reseed_rngs
    from pymc.util import get_transformed_name
    from pytensor.compile.mode import Mode

    strategies = {**model.rvs_to_initial_values, **convert_str_to_rv_dict(model, initial_points or {})}
    exprs = make_initial_point_expression(
        free_rvs=model.free_RVs,
        rvs_to_transforms=model.rvs_to_transforms,
        initval_strategies=strategies,
        jitter_rvs=set(model.free_RVs),
        default_strategy="support_point",
        return_transformed=True,
    )
    func = compile_fn(inputs=[], outputs=replace_rng_nodes(exprs), mode=Mode(linker="py", optimizer="fast_compile"))
    names = []
    for var in model.free_RVs:
        transform = model.rvs_to_transforms[var]
        names.append(var.name if transform is None else get_transformed_name(var.name, transform))
    rngs = find_rng_nodes(func.maker.fgraph.outputs)

    @functools.wraps(func)
    def seeded(seed: Any, *args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
        reseed_rngs(rngs, seed)
        return dict(zip(names, func(*args, **kwargs), strict=True))

    return seeded


def _rebuild(entry: dict[str, Any], model: Any, initial_points: dict[str, np.ndarray] | None) -> Any:
    """A nutpie ``CompiledPyMCModel`` from a cache entry and the (frozen) model, as nutpie assembles it."""
    from numba.core.registry import cpu_target
    from nutpie import compile_pymc as cp

    names, _, shapes = entry["shape_info"]
    free = [model.rvs_to_values[v].name for v in model.free_RVs]
    if list(names[: len(free)]) != free:
        raise ValueError("entry's parameters differ from the model's")
    shared_vars = {}
    for name in entry["shared"]:
        var = model.named_vars.get(name)
        if var is None or not hasattr(var, "get_value"):
            raise ValueError(f"shared variable {name} missing from the model")
        shared_vars[name] = var
    shared_data = {n: np.array(v.get_value(), order="C", copy=True) for n, v in shared_vars.items()}
    for val in shared_data.values():
        val.flags.writeable = False
    codegen = cpu_target.target_context.codegen()
    logp = _LoadedCallback(codegen.unserialize_library(entry["logp"][0]), entry["logp"][1])
    expand = _LoadedCallback(codegen.unserialize_library(entry["expand"][0]), entry["expand"][1])
    point_fn = _initial_point_fn(model, initial_points)
    point_fn = cp._rv_dict_to_flat_array_wrapper(
        cp._wrap_with_lock(point_fn), names=list(names[: len(free)]), shapes=list(shapes[: len(free)])
    )
    dims, coords = cp._prepare_dims_and_coords(model, entry["shape_info"])
    return cp.CompiledPyMCModel(
        _n_dim=entry["n_dim"],
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*entry["shape_info"], strict=True)},
        compiled_logp_func=logp,
        compiled_expand_func=expand,
        initial_point_func=point_fn,
        shared_data=shared_data,
        user_data=cp.make_user_data(shared_vars, shared_data),
        n_expanded=entry["n_expanded"],
        shape_info=entry["shape_info"],
        logp_func=None,
        expand_func=None,
    )


def _prune(folder: Path, keep: Path) -> None:
    """Remove the least recently used entries while the folder holds more than :data:`MAX_BYTES`."""
    try:
        entries = [(p.stat().st_mtime, p.stat().st_size, p) for p in folder.glob("*.bin")]
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries):
        if total <= MAX_BYTES:
            break
        if p != keep:
            with contextlib.suppress(OSError):
                p.unlink()
            total -= size


@contextlib.contextmanager
def _compile_opt() -> Any:
    """Run numba's LLVM passes at :data:`COMPILE_OPT` meanwhile (unless the user set ``NUMBA_OPT``)."""
    from numba.core import config

    if "NUMBA_OPT" in os.environ:
        yield
        return
    old = config.OPT
    config.OPT = type(old)(COMPILE_OPT)
    try:
        yield
    finally:
        config.OPT = old


def _compile(model: Any, initial_points: dict[str, np.ndarray] | None, freeze: bool) -> Any:
    import nutpie

    t0 = time.perf_counter()
    with _compile_opt():
        out = nutpie.compile_pymc_model(model, freeze_model=freeze, initial_points=initial_points or None)
    stats.seconds_compiling += time.perf_counter() - t0
    return out


def compile_cached(model: Any, initial_points: dict[str, np.ndarray] | None = None, *, freeze: bool = True) -> Any:
    """Compile like ``nutpie.compile_pymc_model(model, freeze_model=freeze, ...)``, through the disk cache.

    Parameters
    ----------
    model
        A PyMC model.
    initial_points
        Starting values (nutpie's ``initial_points``).
    freeze
        Bake data and dimensions into the compiled code as constants (nutpie's ``freeze_model``).

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Loaded from the cache when an entry for this model, these libraries and this CPU is whole;
        otherwise compiled (and stored, when its code can be).

    """
    from pymc.model.transform.optimization import freeze_dims_and_data

    folder = cache_dir()
    if folder is None:
        return _compile(model, initial_points, freeze)
    t0 = time.perf_counter()
    if freeze:
        model = freeze_dims_and_data(model)
    key = model_key(model, freeze)
    path = folder / f"{key}.bin"
    try:
        entry = _read(path, key)
        if entry is not None:
            compiled = _rebuild(entry, model, initial_points)
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used
            stats.hits += 1
            stats.seconds_loading += time.perf_counter() - t0
            return compiled
    except Exception as exc:  # noqa: BLE001 - a damaged or stale entry is rebuilt, never trusted
        stats.rejected += 1
        log.warning("compiled-model cache entry %s not used (%s); compiling again", path.name, exc)
    compiled = _compile(model, initial_points, False)  # frozen already: nutpie's freeze would only copy it
    stats.misses += 1
    payload = _payload(compiled, key)
    if payload is None:
        stats.uncacheable += 1
        return compiled
    try:
        _write(path, payload)
        _prune(folder, path)
    except OSError as exc:  # a read-only or full disk only costs the next process a compile
        log.warning("could not store the compiled model in %s: %s", folder, exc)
    return compiled
