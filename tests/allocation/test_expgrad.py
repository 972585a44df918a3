import numpy as np
import pytest

from engine.allocation.expgrad import (GRADIENT_ORDER, GRADIENT_POSITION, expgrad_desired_kernel,
                                       expgrad_desired_reference, expgrad_update_kernel,
                                       expgrad_update_reference)
from engine.allocation.grid import bucket_edges


def _state(seed: int, rows: int = 16, venues: int = 5):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(venues), size=rows)
    return weights, bucket_edges(50_000, rows), rng.uniform(0.01, 0.9, rows), rng.integers(1, 50, rows).astype(float)


@pytest.mark.parametrize("quantity", [0.5, 1, 37, 4_000, 50_000, 80_000])
def test_desired_kernel_agrees_with_its_numpy_twin(quantity):
    weights, edges, _, _ = _state(1)
    out = np.empty(weights.shape[1])
    expgrad_desired_kernel(weights, edges, float(quantity), out)
    np.testing.assert_allclose(out, expgrad_desired_reference(weights, edges, float(quantity)), rtol=1e-12)
    assert out.sum() == pytest.approx(quantity)


@pytest.mark.parametrize("gradient", [GRADIENT_POSITION, GRADIENT_ORDER])
@pytest.mark.parametrize("seed", range(6))
def test_update_kernel_agrees_with_its_numpy_twin(gradient, seed):
    weights, edges, scale, visits = _state(seed)
    rng = np.random.default_rng(100 + seed)
    quantity = float(rng.integers(10, 60_000))
    desired = np.empty(weights.shape[1])
    expgrad_desired_kernel(weights, edges, quantity, desired)
    sent = np.floor(desired)
    sent[rng.integers(0, len(sent))] = 0.0
    filled = np.minimum(sent, np.where(rng.random(len(sent)) < 0.5, rng.integers(0, 5_000, len(sent)), 10**9))
    fast = (weights.copy(), scale.copy(), visits.copy())
    slow = (weights.copy(), scale.copy(), visits.copy())
    expgrad_update_kernel(fast[0], edges, fast[1], fast[2], quantity, sent, filled, 0.05, 0.01, 1e-3, gradient)
    expgrad_update_reference(slow[0], edges, slow[1], slow[2], quantity, sent, filled, 0.05, 0.01, 1e-3, gradient)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fast[0].sum(axis=1), 1.0)


def test_a_venue_that_keeps_filling_gains_weight_and_one_that_never_fills_loses_it():
    weights, edges, scale, visits = _state(0, venues=3)
    weights[:] = 1 / 3
    for _ in range(200):
        desired = np.empty(3)
        expgrad_desired_kernel(weights, edges, 1_000.0, desired)
        sent = np.maximum(np.floor(desired), 1.0)
        filled = np.array([sent[0], 0.0, min(sent[2], 5.0)])  # 0 always exhausted, 1 empty, 2 holds 5
        expgrad_update_kernel(weights, edges, scale, visits, 1_000.0, sent, filled, 0.05, 0.01, 1e-4, GRADIENT_POSITION)
    touched = edges[1:] <= 1_000  # rows wholly inside the order
    assert np.all(weights[touched, 1] < 0.01)
    assert np.all(weights[touched, 0] >= weights[touched, 2] - 1e-9)
    beyond_five = touched & (edges[:-1] > 20)  # rows whose units lie past venue 2's five shares
    assert np.all(weights[beyond_five, 0] > 0.9)
    np.testing.assert_allclose(weights[edges[:-1] >= 1_000], 1 / 3)  # rows above the order are untouched
