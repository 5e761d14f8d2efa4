"""The logit likelihoods' vectorised kernel (qmsprint.models.kernels): exact to double precision, same gradients."""

from __future__ import annotations

import numpy as np
import pytest

from qmsprint.models import kernels

EXTREMES = [0.0, 1e-300, -1e-300, 1e-12, -1e-12, 0.5, -0.5, 36.0, -36.0, 700.0, -700.0, 800.0, -800.0]


def test_exp_and_log1p_are_exact_to_double_precision():
    x = np.concatenate([-np.geomspace(1e-300, 708.0, 20_000), np.linspace(-708.0, 0.0, 20_001)])
    got = np.array([kernels.exp_nonpositive(v) for v in x])
    np.testing.assert_allclose(got, np.exp(x), rtol=5e-16, atol=0)
    t = np.concatenate([np.geomspace(1e-300, 1.0, 20_000), np.linspace(0.0, 1.0, 20_001)])
    got = np.array([kernels.log1p_unit(v) for v in t])
    np.testing.assert_allclose(got, np.log1p(t), rtol=1e-15, atol=0)
    assert kernels.log1p_unit(0.0) == 0.0 and kernels.exp_nonpositive(0.0) == 1.0


def test_softplus_sum_and_its_gradient_match_numpy_at_ordinary_and_extreme_values():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.0, 4.0, 10_001), EXTREMES])
    w = rng.integers(0, 50, x.size).astype(float)
    grad = np.empty_like(x)
    total = kernels.softplus_sum(x, w, grad)
    want, want_grad = kernels.softplus_sum_reference(x, w)
    assert total == pytest.approx(want, rel=1e-14)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-14, atol=1e-300)
    # closed forms: softplus(0) = log 2, softplus(-800) = 0, softplus(800) = 800; sigmoid(0) = 1/2
    three = np.array([0.0, -800.0, 800.0])
    g3 = np.empty(3)
    assert kernels.softplus_sum(three, np.ones(3), g3) == pytest.approx(np.log(2.0) + 800.0, rel=1e-15)
    np.testing.assert_allclose(g3, [0.5, 0.0, 1.0], atol=1e-300)


def test_a_nan_or_an_infinite_value_reaches_the_sum():
    g = np.empty(3)
    assert np.isnan(kernels.softplus_sum(np.array([0.0, np.nan, 1.0]), np.ones(3), g))
    assert kernels.softplus_sum(np.array([0.0, np.inf, 1.0]), np.ones(3), g) == np.inf
    assert kernels.softplus_sum(np.array([0.0, -np.inf, 1.0]), np.ones(3), g) == pytest.approx(
        np.log(2.0) + np.log1p(np.e), rel=1e-15
    )


def test_softplus_pairs_gathers_and_scatters_like_numpy():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.0, 2.0, 300), np.sort(rng.normal(0.0, 2.0, 4))
    ia, ib = rng.integers(0, 300, 2_000), rng.integers(0, 4, 2_000)  # repeated indices add up
    w = rng.integers(1, 9, 2_000).astype(float)
    ga, gb = np.empty_like(a), np.empty_like(b)
    total = kernels.softplus_pairs(a, b, ia, ib, w, ga, gb)
    want, want_a, want_b = kernels.softplus_pairs_reference(a, b, ia, ib, w)
    assert total == pytest.approx(want, rel=1e-14)
    np.testing.assert_allclose(ga, want_a, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gb, want_b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_COMPILE"])
def test_the_ops_give_the_value_and_gradient_of_the_elementwise_graph(mode):
    """numba (the kernel) and PyTensor's Python mode (the Ops' perform) against exp / log1p written out."""
    import pytensor
    import pytensor.tensor as pt

    rng = np.random.default_rng(5)
    w = rng.integers(1, 20, 500).astype(float)
    ia, ib = rng.integers(0, 50, 500), rng.integers(0, 3, 500)
    theta = pt.dvector("theta")
    cut = pt.dvector("cut")
    x = 3.0 * theta[:50]

    def softplus(v):
        return pt.maximum(v, 0.0) + pt.log1p(pt.exp(-pt.abs(v)))

    ours = kernels.weighted_softplus(x[ia], w) + kernels.weighted_softplus_pairs(x, cut, ia, ib, w)
    plain = pt.sum(w * softplus(x[ia])) + pt.sum(w * softplus(x[ia] - cut[ib]))
    outputs = [ours, plain, *pytensor.grad(ours, [theta, cut]), *pytensor.grad(plain, [theta, cut])]
    f = pytensor.function([theta, cut], outputs, mode=mode)
    v_ours, v_plain, g_theta, g_cut, want_theta, want_cut = f(rng.normal(0.0, 2.0, 60), np.array([-1.0, 0.3, 2.0]))
    assert float(v_ours) == pytest.approx(float(v_plain), rel=1e-13)
    np.testing.assert_allclose(g_theta, want_theta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g_cut, want_cut, rtol=1e-12, atol=1e-12)


def test_the_gradient_matches_finite_differences():
    import pytensor.tensor as pt
    from pytensor.gradient import verify_grad

    rng = np.random.default_rng(6)
    w = rng.integers(1, 9, 40).astype(float)
    ia, ib = rng.integers(0, 10, 40), rng.integers(0, 3, 40)
    verify_grad(lambda x: kernels.weighted_softplus(x, w), [rng.normal(0.0, 3.0, 40)], rng=rng)
    verify_grad(
        lambda a, b: kernels.weighted_softplus_pairs(a, b, ia, ib, w) + 0.0 * pt.sum(a),
        [rng.normal(0.0, 2.0, 10), np.array([-1.0, 0.0, 1.5])],
        rng=rng,
    )


def test_the_kernel_runs_on_vector_registers_and_new_code_gets_new_cache_keys():
    """The point of the kernel: its loops use 256-bit (AVX) instructions; its version keys every cache."""
    import llvmlite.binding as llvm

    if "avx2" not in {k for k, v in llvm.get_host_cpu_features().items() if v}:
        pytest.skip("this CPU has no AVX2")
    from numba import njit

    fresh = njit(fastmath=kernels._FLAGS, error_model="numpy")(kernels.softplus_sum.py_func)  # not from the disk cache
    x, w, g = np.zeros(8), np.ones(8), np.zeros(8)
    fresh(x, w, g)
    asm = fresh.inspect_asm(fresh.signatures[0])
    assert "ymm" in asm and "vdivpd" in asm  # vectorised, divisions included (no Python division checks)
    ops = kernels._ops()
    assert all(op.version == kernels.KERNEL_VERSION for op in ops) and len(kernels.KERNEL_VERSION) == 16
    from qmsprint.models.compile_cache import _stable

    assert kernels.KERNEL_VERSION in _stable(ops[0])
