"""Waiting for a background sampler reports that it is still running."""

from __future__ import annotations

import time

from qmsprint.models import sampling


class _FakeSampler:
    """Finishes ``after`` seconds from creation; ``wait`` returns a marker."""

    def __init__(self, after: float) -> None:
        self.done_at = time.perf_counter() + after

    @property
    def is_finished(self) -> bool:
        if time.perf_counter() < self.done_at:
            raise TimeoutError("Timeout while waiting for sampler to finish")  # as nutpie 0.16 does
        return True

    def wait(self) -> str:
        return "trace"


def test_wait_reports_heartbeats_while_sampling(monkeypatch):
    monkeypatch.setattr(sampling, "HEARTBEAT_SECONDS", 0.3)
    seen: list[tuple[str, float]] = []
    out = sampling._wait(_FakeSampler(1.2), "csat", lambda m, f: seen.append((m, f)), 0.4)
    assert out == "trace"
    assert 2 <= len(seen) <= 5, seen
    assert all(m.startswith("still sampling csat (") and f == 0.4 for m, f in seen)


def test_wait_without_progress_just_waits():
    assert sampling._wait(_FakeSampler(0.0), "csat", None, 0.0) == "trace"


def test_wait_on_a_real_nutpie_sampler():
    import pymc as pm

    if not sampling.nutpie_available():
        import pytest

        pytest.skip("nutpie is not installed")
    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0, shape=2)
    seen: list[str] = []
    idata, used = sampling.sample_model(
        model, draws=60, tune=60, chains=2, seed=1, progress=lambda m, f: seen.append(m), label="x"
    )
    assert used == "nutpie"
    assert idata.posterior["x"].shape == (2, 60, 2)
