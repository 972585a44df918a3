"""Sweep attribution: each venue's adverse move recovered from whole sweeps whose fills share one
move, where the per-venue mean markout blames the clean venues that fill beside a toxic one."""

from __future__ import annotations

import numpy as np
import pytest

from engine.allocation.attribution import SweepAttribution
from engine.allocation.netvalue import MarkoutEstimator
from engine.journal.tables import pack_snapshot, unpack_snapshot

VENUES = 4
ALPHA = 2.0             # the common adverse drift of every sweep (bps)
INFORMED_BPS = 20.0     # what venue 0's informed contra moves the midpoint, for every fill of the sweep
INFORMED_PROBABILITY = 0.5
SWEEP_NOISE_SD = 3.0    # shared by the fills of a sweep
FILL_NOISE_SD = 2.0     # each fill's own


def toxic_sweeps(seed: int = 11, sweeps: int = 10_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(filled shares, adverse markouts per fill, the sweep's design z = (1, x)) for sweeps in which
    venue 0 is toxic (E[move | it filled] = 10 bps) and venues 1-3 are clean. Venue 1 fills mostly
    alongside venue 0 (0.8 when it fills, 0.2 otherwise), venues 2 and 3 independently."""
    rng = np.random.default_rng(seed)
    x0 = rng.random(sweeps) < 0.5
    x1 = rng.random(sweeps) < np.where(x0, 0.8, 0.2)
    x2 = rng.random(sweeps) < 0.5
    x3 = rng.random(sweeps) < 0.3
    happened = np.column_stack([x0, x1, x2, x3])
    shares = np.where(happened, rng.integers(100, 1_001, size=happened.shape), 0).astype(float)
    informed = x0 & (rng.random(sweeps) < INFORMED_PROBABILITY)
    move = ALPHA + INFORMED_BPS * informed + rng.normal(0.0, SWEEP_NOISE_SD, sweeps)
    markouts = move[:, None] + rng.normal(0.0, FILL_NOISE_SD, happened.shape)
    markouts = np.where(happened, markouts, np.nan)  # a venue that filled nothing has no markout
    any_fill = happened.any(axis=1)
    design = np.column_stack([np.ones(sweeps), happened.astype(float)])[any_fill]
    return shares, markouts, design


def standard_errors(design: np.ndarray) -> np.ndarray:
    """Least-squares standard errors of (alpha, m_1..m_K) with an upper bound of the residual
    variance: the sweep's noise, the fill noise (a share-weighted mean of fills has at most one
    fill's variance) and the informed draw's Bernoulli variance (20^2 / 4)."""
    variance = SWEEP_NOISE_SD ** 2 + FILL_NOISE_SD ** 2 + INFORMED_BPS ** 2 * INFORMED_PROBABILITY * (1 - INFORMED_PROBABILITY)
    return np.sqrt(variance * np.diag(np.linalg.inv(design.T @ design)))


def test_attribution_recovers_the_toxic_venue_and_clears_the_clean_ones():
    shares, markouts, design = toxic_sweeps()
    attribution = SweepAttribution(VENUES, prior_fills=0.0)
    attribution.record(shares, markouts)
    tolerance = 4.0 * standard_errors(design)
    truth = np.array([ALPHA, INFORMED_BPS * INFORMED_PROBABILITY, 0.0, 0.0, 0.0])
    assert attribution.sweeps == len(design)
    assert np.all(tolerance < 1.5)  # the check means something: 4 standard errors are well under 10 bps
    assert np.all(np.abs(attribution.coefficients() - truth) <= tolerance), (attribution.coefficients(), tolerance)
    assert attribution.common_move_bps() == pytest.approx(ALPHA, abs=tolerance[0])


def test_a_venue_is_charged_its_move_beyond_noise_times_its_exposure():
    """moves_bps() is what a share filled at the venue costs: the part of m_i above 2 standard
    errors (0 for the clean venues), times the shares of its sweeps per share it filled."""
    shares, markouts, design = toxic_sweeps()
    attribution = SweepAttribution(VENUES, prior_fills=0.0)
    attribution.record(shares, markouts)
    happened = shares > 0
    exposure = (happened * shares.sum(axis=1, keepdims=True)).sum(axis=0) / shares.sum(axis=0)
    np.testing.assert_allclose(attribution.exposure(), exposure)
    moves, errors = attribution.coefficients()[1:], attribution.standard_errors()[1:]
    np.testing.assert_allclose(attribution.moves_bps(), np.maximum(moves - 2.0 * errors, 0.0) * exposure)
    assert attribution.moves_bps()[0] > moves[0] and np.all(attribution.moves_bps()[1:] == 0.0)
    fresh = SweepAttribution(VENUES)
    assert np.all(fresh.moves_bps() == 0.0) and np.all(fresh.exposure() == 1.0)  # clean until shown toxic


def test_the_per_venue_mean_blames_a_clean_venue_that_fills_beside_the_toxic_one():
    shares, markouts, design = toxic_sweeps()
    mean = MarkoutEstimator(VENUES, prior_fills=0.0)
    mean.record(shares, markouts)
    attribution = SweepAttribution(VENUES, prior_fills=0.0)
    attribution.record(shares, markouts)
    happened = shares > 0
    # venue 1's fills come with venue 0's in P(x0 | x1) of its sweeps, each carrying 10 bps on average
    co_filled = (happened[:, 0] & happened[:, 1]).sum() / happened[:, 1].sum()
    assert co_filled > 0.7
    expected_bias = ALPHA + INFORMED_BPS * INFORMED_PROBABILITY * co_filled
    fills = happened.sum(axis=0)
    mean_tolerance = 4.0 * np.sqrt(SWEEP_NOISE_SD ** 2 + FILL_NOISE_SD ** 2 + INFORMED_BPS ** 2 / 4) / np.sqrt(fills)
    assert mean.moves_bps()[1] == pytest.approx(expected_bias, abs=mean_tolerance[1])
    # the mean calls the clean venue 1 toxic (about 10 bps, like venue 0 itself); attribution does not
    assert mean.moves_bps()[1] > 5.0
    tolerance = 4.0 * standard_errors(design)[1:]
    assert abs(attribution.coefficients()[2]) <= tolerance[1]
    assert mean.moves_bps()[1] > 4 * tolerance[1]  # far outside the band truth (0) would give


def test_markouts_may_arrive_in_any_order_and_batches():
    shares, markouts, _ = toxic_sweeps(seed=3, sweeps=600)
    whole = SweepAttribution(VENUES)
    whole.record(shares, markouts)
    pieces = SweepAttribution(VENUES)
    order = np.random.default_rng(0).permutation(len(shares))
    for chunk in np.array_split(order, 7):
        pieces.record(shares[chunk], markouts[chunk])
    np.testing.assert_allclose(pieces.coefficients(), whole.coefficients(), rtol=1e-9, atol=1e-9)
    one_by_one = SweepAttribution(VENUES)
    for row in range(len(shares)):
        one_by_one.record(shares[row], markouts[row])  # shape (venues,): one sweep
    np.testing.assert_allclose(one_by_one.coefficients(), whole.coefficients(), rtol=1e-9, atol=1e-9)


def test_without_data_every_move_is_zero():
    attribution = SweepAttribution(VENUES)
    np.testing.assert_array_equal(attribution.coefficients(), np.zeros(VENUES + 1))
    np.testing.assert_array_equal(attribution.moves_bps(), np.zeros(VENUES))
    assert attribution.common_move_bps() == 0.0
    attribution.record(np.zeros((3, VENUES)), np.full((3, VENUES), 7.0))  # sweeps that filled nothing
    assert attribution.sweeps == 0
    np.testing.assert_array_equal(attribution.moves_bps(), np.zeros(VENUES))


def shrink_sweeps() -> tuple[np.ndarray, np.ndarray]:
    """Many sweeps at venues 0-2 (venue 0 at 10 bps whenever it fills, 1 and 2 at 0, varied sets so
    the fit is identified) and only three at venue 3, each of them 30 bps."""
    patterns = [((1, 0, 0, 0), 10.0), ((0, 1, 0, 0), 0.0), ((1, 1, 0, 0), 10.0), ((0, 0, 1, 0), 0.0),
                ((1, 0, 1, 0), 10.0), ((0, 1, 1, 0), 0.0)]
    rows = [pattern for pattern in patterns for _ in range(200)] + [((0, 0, 0, 1), 30.0)] * 3
    filled = np.array([p for p, _ in rows], dtype=float) * 100.0
    markouts = np.array([[y] * VENUES for _, y in rows])
    return filled, markouts


def test_the_ridge_shrinks_a_venue_with_few_sweeps_towards_zero():
    filled, markouts = shrink_sweeps()
    unshrunk = SweepAttribution(VENUES, prior_fills=0.0)
    unshrunk.record(filled, markouts)
    np.testing.assert_allclose(unshrunk.coefficients(), [0.0, 10.0, 0.0, 0.0, 30.0], atol=1e-6)
    moderate = SweepAttribution(VENUES, prior_fills=10.0)
    moderate.record(filled, markouts)
    assert moderate.moves_bps()[3] < 0.5 * 30.0           # three sweeps against ten pseudo-sweeps at 0
    assert moderate.moves_bps()[0] > 0.9 * 10.0           # 600 sweeps are barely moved
    heavy = SweepAttribution(VENUES, prior_fills=10_000.0)
    heavy.record(filled, markouts)
    assert 0.0 < heavy.moves_bps()[3] < 0.05 * 30.0
    assert heavy.moves_bps()[3] < moderate.moves_bps()[3] < unshrunk.moves_bps()[3]
    assert np.all(np.abs(heavy.moves_bps()) < 1.0)  # a prior far above the data: every venue near 0


def test_sweeps_without_a_fill_are_ignored_and_so_are_the_markouts_of_venues_that_filled_nothing():
    filled, markouts = shrink_sweeps()
    plain = SweepAttribution(VENUES)
    plain.record(filled, markouts)
    # empty sweeps with wild (even NaN) markouts in between, and NaN for every venue that did not fill
    noisy_filled = np.vstack([filled, np.zeros((5, VENUES))])
    noisy_markouts = np.vstack([np.where(filled > 0, markouts, np.nan), np.full((5, VENUES), np.nan)])
    noisy_markouts[-1] = 1e6
    noisy = SweepAttribution(VENUES)
    noisy.record(noisy_filled, noisy_markouts)
    assert noisy.sweeps == plain.sweeps == len(filled)
    np.testing.assert_allclose(noisy.coefficients(), plain.coefficients(), rtol=1e-12, atol=1e-12)


def test_the_sweep_markout_is_share_weighted():
    attribution = SweepAttribution(2, prior_fills=0.0)
    # one venue per sweep, then both: the both-sweep's y is (100 * 4 + 300 * 8) / 400 = 7
    attribution.record(np.array([[100.0, 0.0], [0.0, 100.0], [100.0, 300.0]]),
                       np.array([[4.0, np.nan], [np.nan, 8.0], [4.0, 8.0]]))
    np.testing.assert_allclose(attribution.moment, [4.0 + 8.0 + 7.0, 4.0 + 7.0, 8.0 + 7.0])
    np.testing.assert_allclose(attribution.gram, [[3, 2, 2], [2, 2, 1], [2, 1, 2]])


def test_a_nan_markout_of_a_fill_and_a_wrong_shape_are_refused():
    attribution = SweepAttribution(VENUES)
    with pytest.raises(ValueError, match="NaN"):
        attribution.record(np.array([100.0, 0, 0, 0]), np.array([np.nan, 0, 0, 0]))
    with pytest.raises(ValueError):
        attribution.record(np.ones((2, VENUES)), np.ones((3, VENUES)))
    with pytest.raises(ValueError):
        attribution.record(np.ones(VENUES + 1), np.ones(VENUES + 1))
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError):
            SweepAttribution(VENUES, prior_fills=bad)


def test_snapshot_and_restore_round_trip_through_the_journal_packing():
    shares, markouts, _ = toxic_sweeps(seed=5, sweeps=300)
    learned = SweepAttribution(VENUES)
    learned.record(shares, markouts)
    snapshot = learned.snapshot()
    packed = unpack_snapshot(pack_snapshot(snapshot))  # as the journal keeps it (sweeps a 0-d array)
    restored = SweepAttribution(VENUES)
    restored.restore(packed)
    np.testing.assert_array_equal(restored.coefficients(), learned.coefficients())
    assert restored.sweeps == learned.sweeps
    # the snapshot is a copy: learning more afterwards changes neither it nor the restored estimate
    before = restored.coefficients()
    learned.record(shares[:50], markouts[:50])
    np.testing.assert_array_equal(snapshot["gram"], packed["gram"])
    np.testing.assert_array_equal(restored.coefficients(), before)
    # and the restored one goes on learning from where it was
    restored.record(shares[:50], markouts[:50])
    np.testing.assert_allclose(restored.coefficients(), learned.coefficients(), rtol=1e-12)


def test_a_snapshot_for_another_venue_count_is_refused():
    other = SweepAttribution(VENUES + 1)
    other.record(np.ones(VENUES + 1), np.ones(VENUES + 1))
    attribution = SweepAttribution(VENUES)
    with pytest.raises(ValueError, match="venues"):
        attribution.restore(other.snapshot())
    np.testing.assert_array_equal(attribution.moves_bps(), np.zeros(VENUES))  # left as it was
    with pytest.raises(ValueError):
        attribution.restore({"gram": np.zeros((VENUES + 1, VENUES + 1)), "moment": np.zeros(VENUES), "sweeps": 0})
