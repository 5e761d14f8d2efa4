"""The logit likelihoods' inner sum as one vectorised kernel: ``sum_i w_i softplus(x_i)`` and its gradient.

``softplus(x) = log(1 + exp(x))`` is what the binomial (``n log(1 + exp(eta))``) and ordinal
(``log sigma(cut - eta) = -softplus(eta - cut)``) log-likelihoods spend their time on. Written as
PyTensor's elementwise ``exp`` and ``log1p``, numba calls the C library once per value (about 18 ns
each: llvmlite has no vector math library), and the gradient graph computes the ``exp`` again.
:class:`SoftplusSum` computes the sum and its gradient ``w_i sigmoid(x_i)`` in one pass, with
``exp`` and ``log1p`` written as polynomials that LLVM turns into AVX instructions (about 4 ns a
value for both): the logit models' log density and gradient take about half the time.

Accuracy: :func:`exp_nonpositive` is Cody and Waite's reduction ``x = k log 2 + r``,
``|r| <= log(2) / 2``, with the Taylor polynomial of degree 13 (relative error below 4e-16 for
``x >= -708``; below that it returns ``exp(-708)``, about 3e-308, instead of a subnormal number or
zero, which changes ``softplus`` by less than 1e-307). :func:`log1p_unit` is ``2 atanh`` of a
reduced argument, summed to the term of degree 23 (relative error below 5e-16 for
``0 <= t <= 1``). A NaN in ``x`` makes the sum NaN, as the elementwise form did, so that the
sampler rejects the point.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

# PyTensor keeps compiled numba code on disk by key, and qmsprint's compiled-model cache keys by the
# ops' parameters: both carry a digest of this file, so that changed kernel code is compiled again
KERNEL_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634
_ROUND = 6755399441055744.0  # 2**52 + 2**51: adding it rounds a double below 2**51 to an integer
# no 'nnan' / 'ninf' (a NaN must reach the sum) and no 'reassoc' (the rounding trick needs the order)
_FLAGS = {"contract", "nsz", "arcp"}


@intrinsic
def _bits_as_float(typingctx: Any, bits: Any) -> Any:  # noqa: ARG001
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:  # noqa: ARG001
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@intrinsic
def _float_as_bits(typingctx: Any, value: Any) -> Any:  # noqa: ARG001
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:  # noqa: ARG001
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@njit(inline="always", fastmath=_FLAGS, error_model="numpy", cache=True)
def exp_nonpositive(x: float) -> float:
    """``exp(x)`` for ``x <= 0`` (module docstring), with no branch, so that loops over it vectorise."""
    v = max(x, -708.0)
    shifted = v * _LOG2E + _ROUND  # the nearest integer k to v / log 2, in the low bits
    k = shifted - _ROUND
    r = (v - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    for c in (1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
              1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):  # fmt: skip
        p = c + r * p
    return p * _bits_as_float((_float_as_bits(shifted) + 1023) << 52)  # times 2**k


_SQRT2_M1 = 0.41421356237309503  # sqrt(2) - 1
_LN2 = 0.6931471805599453


@njit(inline="always", fastmath=_FLAGS, error_model="numpy", cache=True)
def log1p_unit(t: float) -> float:
    """``log(1 + t)`` for ``0 <= t <= 1``, with no branch (module docstring).

    ``log(1 + t) = 2 atanh(s)`` with ``s = t / (2 + t)`` up to ``t = sqrt(2) - 1``; above,
    ``log 2 + 2 atanh(s)`` with ``s = (t - 1) / (t + 3)``. Then ``|s| <= 0.1716``, and the odd series
    ``2 (s + s^3/3 + ... + s^23/23)`` is exact to double precision; its polynomial in ``z = s^2`` is
    evaluated in Estrin's form (a short chain of dependent operations).
    """
    high = t > _SQRT2_M1
    s = (t - 1.0) / (t + 3.0) if high else t / (2.0 + t)
    z = s * s
    z2 = z * z
    z4 = z2 * z2
    z8 = z4 * z4
    a = (1.0 + z * (1.0 / 3.0)) + z2 * (1.0 / 5.0 + z * (1.0 / 7.0))
    b = (1.0 / 9.0 + z * (1.0 / 11.0)) + z2 * (1.0 / 13.0 + z * (1.0 / 15.0))
    c = (1.0 / 17.0 + z * (1.0 / 19.0)) + z2 * (1.0 / 21.0 + z * (1.0 / 23.0))
    return (_LN2 if high else 0.0) + 2.0 * s * ((a + z4 * b) + z8 * c)


@njit(fastmath=_FLAGS, error_model="numpy", cache=True)
def softplus_sum(x: np.ndarray, w: np.ndarray, grad: np.ndarray) -> float:
    """``sum_i w_i softplus(x_i)``; writes ``w_i sigmoid(x_i)`` (its gradient) into ``grad``."""
    m = x.size
    t = np.empty(m)
    for i in range(m):
        t[i] = exp_nonpositive(-abs(x[i]))  # exp(-|x|), in (0, 1]
    for i in range(m):
        xi = x[i]
        ti = t[i]
        inv = 1.0 / (1.0 + ti)
        grad[i] = w[i] * (inv if xi >= 0.0 else ti * inv)
        t[i] = w[i] * (max(xi, 0.0) + log1p_unit(ti)) + (xi if xi != xi else 0.0)  # a NaN in x stays NaN
    s0 = s1 = s2 = s3 = 0.0  # four running sums, so that the additions overlap
    j = 0
    while j + 4 <= m:
        s0 += t[j]
        s1 += t[j + 1]
        s2 += t[j + 2]
        s3 += t[j + 3]
        j += 4
    while j < m:
        s0 += t[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


@njit(fastmath=_FLAGS, error_model="numpy", cache=True)
def softplus_pairs(
    a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray, w: np.ndarray, ga: np.ndarray, gb: np.ndarray
) -> float:
    """``sum_i w_i softplus(a[ia_i] - b[ib_i])``; writes its gradients in ``a`` and ``b`` into ``ga``, ``gb``."""
    m = w.size
    x = np.empty(m)
    for i in range(m):
        x[i] = a[ia[i]] - b[ib[i]]
    g = np.empty(m)
    total = softplus_sum(x, w, g)
    ga[:] = 0.0
    gb[:] = 0.0
    for i in range(m):
        ga[ia[i]] += g[i]
        gb[ib[i]] -= g[i]
    return total


def softplus_sum_reference(x: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """The same sum and gradient with NumPy's ``exp`` and ``log1p`` (tests and non-numba backends)."""
    x = np.asarray(x, dtype="float64")
    w = np.asarray(w, dtype="float64")
    t = np.exp(-np.abs(x))
    inv = 1.0 / (1.0 + t)
    sig = np.where(x >= 0, inv, t * inv)
    return float(np.sum(w * (np.maximum(x, 0.0) + np.log1p(t)))), w * sig


def softplus_pairs_reference(
    a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`softplus_pairs` with NumPy (tests and non-numba backends)."""
    total, g = softplus_sum_reference(np.asarray(a)[ia] - np.asarray(b)[ib], w)
    ga = np.bincount(ia, weights=g, minlength=len(a)).astype("float64")
    gb = -np.bincount(ib, weights=g, minlength=len(b)).astype("float64")
    return total, ga, gb


def _op_classes() -> tuple[type, type]:
    """The PyTensor Ops (built on first use: PyTensor is imported only when a model is built)."""
    import pytensor.tensor as pt
    from pytensor.gradient import grad_not_implemented
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key

    class SoftplusSum(Op):
        """``(sum_i w_i softplus(x_i), w_i sigmoid(x_i))`` of float64 vectors ``x`` and ``w`` (module docstring).

        The second output is the gradient of the first in ``x``; ``w`` is data (no gradient).
        """

        __props__ = ("version",)  # in the compiled-model cache's key: new kernel code, new entries

        def __init__(self, version: str = KERNEL_VERSION) -> None:
            self.version = version

        def make_node(self, x: Any, w: Any) -> Apply:
            x = pt.as_tensor_variable(x).astype("float64")
            w = pt.as_tensor_variable(w).astype("float64")
            return Apply(self, [x, w], [pt.dscalar(), x.type()])

        def perform(self, node: Any, inputs: Any, outputs: Any) -> None:  # noqa: ARG002
            total, grad = softplus_sum_reference(*inputs)
            outputs[0][0] = np.asarray(total)
            outputs[1][0] = grad

        def grad(self, inputs: Any, output_grads: Any) -> list[Any]:
            _, grad = self(*inputs)  # the same node as the sum's: computed once
            return [output_grads[0] * grad, grad_not_implemented(self, 1, inputs[1])]

        def connection_pattern(self, node: Any) -> list[list[bool]]:  # noqa: ARG002
            return [[True, False], [True, False]]

    class SoftplusPairs(Op):
        """``sum_i w_i softplus(a[ia_i] - b[ib_i])`` and its gradients in ``a`` and ``b`` (indices and ``w``: data)."""

        __props__ = ("version",)

        def __init__(self, version: str = KERNEL_VERSION) -> None:
            self.version = version

        def make_node(self, a: Any, b: Any, ia: Any, ib: Any, w: Any) -> Apply:
            a, b, w = (pt.as_tensor_variable(v).astype("float64") for v in (a, b, w))
            ia, ib = (pt.as_tensor_variable(v).astype("int64") for v in (ia, ib))
            return Apply(self, [a, b, ia, ib, w], [pt.dscalar(), a.type(), b.type()])

        def perform(self, node: Any, inputs: Any, outputs: Any) -> None:  # noqa: ARG002
            total, ga, gb = softplus_pairs_reference(*inputs)
            outputs[0][0] = np.asarray(total)
            outputs[1][0] = ga
            outputs[2][0] = gb

        def grad(self, inputs: Any, output_grads: Any) -> list[Any]:
            _, ga, gb = self(*inputs)
            return [output_grads[0] * ga, output_grads[0] * gb] + [
                grad_not_implemented(self, i, inputs[i]) for i in (2, 3, 4)
            ]

        def connection_pattern(self, node: Any) -> list[list[bool]]:  # noqa: ARG002
            return [[True, False, False]] * 5

    @register_funcify_and_cache_key(SoftplusSum)
    def _numba_sum(op: Any, node: Any, **kwargs: Any) -> tuple[Any, str]:  # noqa: ARG001
        @numba_njit
        def kernel(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            grad = np.empty_like(x)
            total = softplus_sum(np.ascontiguousarray(x), np.ascontiguousarray(w), grad)
            return np.asarray(total), grad

        return kernel, f"qmsprint-softplus-sum-{KERNEL_VERSION}"

    @register_funcify_and_cache_key(SoftplusPairs)
    def _numba_pairs(op: Any, node: Any, **kwargs: Any) -> tuple[Any, str]:  # noqa: ARG001
        @numba_njit
        def kernel(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray, w: np.ndarray) -> tuple:
            ga = np.empty_like(a)
            gb = np.empty_like(b)
            total = softplus_pairs(a, b, ia, ib, np.ascontiguousarray(w), ga, gb)
            return np.asarray(total), ga, gb

        return kernel, f"qmsprint-softplus-pairs-{KERNEL_VERSION}"

    return SoftplusSum, SoftplusPairs


_OPS: list[Any] = []


def _ops() -> list[Any]:
    if not _OPS:
        _OPS.extend(cls() for cls in _op_classes())
    return _OPS


def weighted_softplus(x: Any, w: Any) -> Any:
    """The PyTensor scalar ``sum_i w_i softplus(x_i)`` (gradient in ``x`` from the same kernel)."""
    return _ops()[0](x, w)[0]


def weighted_softplus_pairs(a: Any, b: Any, ia: Any, ib: Any, w: Any) -> Any:
    """The PyTensor scalar ``sum_i w_i softplus(a[ia_i] - b[ib_i])`` (its gradients from the same kernel)."""
    return _ops()[1](a, b, ia, ib, w)[0]
