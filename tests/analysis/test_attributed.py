"""Attributed markouts: a toxic venue's move shared by every fill of its sweeps, blamed on a clean
co-filler by the per-venue mean and put back on the toxic venue by the sweep regression; the
regression's standard errors against plain least squares; the natural order of venue names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.allocation.attribution import SweepAttribution
from engine.analysis.attributed import COMMON, attribute, format_attributed, natural_key
from engine.analysis.venue_report import format_table, venue_report
from engine.commands.cli import main
from tests.analysis.test_venue_report import PNG_SIGNATURE, Book

HORIZONS = (1.0, 10.0)
INFORMED_BPS = -20.0        # what A's informed contra does to every fill of the sweep (in our favour: < 0)
INFORMED_PROBABILITY = 0.5  # so A's attributed move is -10 bps
COMMON_BPS = -1.0           # every sweep's drift, whoever fills
SWEEP_NOISE_SD = {1.0: 3.0, 10.0: 6.0}
FILL_NOISE_SD = 2.0


def toxic_journal(book: Book, sweeps: int = 2_000, seed: int = 7) -> Book:
    """A is toxic, B clean but filling beside A in 80% of its sweeps, C clean and never beside A."""
    rng = np.random.default_rng(seed)
    for s in range(sweeps):
        a = rng.random() < 0.5
        filled = {"A": a, "B": rng.random() < (0.8 if a else 0.2), "C": (not a) and rng.random() < 0.4}
        informed = a and rng.random() < INFORMED_PROBABILITY
        parent = f"P{s // 50}"
        if s % 50 == 0:
            book.parent(parent, 100_000)
        moves = {h: COMMON_BPS + INFORMED_BPS * informed + rng.normal(0.0, SWEEP_NOISE_SD[h]) for h in HORIZONS}
        for venue in (v for v, did in filled.items() if did):
            book.fill(parent, venue, int(rng.integers(100, 1_001)),
                      {h: moves[h] + rng.normal(0.0, FILL_NOISE_SD) for h in HORIZONS},
                      child_id=f"{parent}.1.{s}.{venue}")
    return book


@pytest.fixture
def book(tmp_path) -> Book:
    return Book(tmp_path / "journal.sqlite")


def test_the_mean_blames_the_clean_co_filler_and_the_attribution_does_not(book):
    report = venue_report(toxic_journal(book).done())
    truth = {"A": INFORMED_BPS * INFORMED_PROBABILITY, "B": 0.0, "C": 0.0}
    for h in HORIZONS:
        means = {row.venue: row.markout(h) for row in report.venues}
        # B's fills carry A's move in about 80% of its sweeps: about -8 bps, far from B's own 0
        assert means["B"].ci_high_bps < -5.0 and means["A"].ci_high_bps < -8.0
        assert means["C"].ci_low_bps < COMMON_BPS < means["C"].ci_high_bps
        for venue, bps in truth.items():
            move = report.attributed.row(venue).move(h)
            assert move.ci_low_bps < bps < move.ci_high_bps, (h, venue, move)
        common = report.attributed.common.move(h)
        assert common.ci_low_bps < COMMON_BPS < common.ci_high_bps
    a = report.attributed.row("A").move(1.0)
    assert a.ci_high_bps < -5.0 and a.ci_high_bps - a.ci_low_bps < 5.0  # narrow: far from 0, near -10
    b = report.attributed.row("B").move(1.0)
    assert b.ci_high_bps - b.ci_low_bps < 5.0 and means["B"].mean_bps < b.ci_low_bps  # the mean is outside it


def test_the_attributed_table_the_json_and_the_plot(book, tmp_path, capsys):
    out = tmp_path / "report"
    toxic_journal(book, sweeps=400)
    book.child("P0", "D", 100, 0, state="canceled")  # a venue with a child and no fill: no sweep
    assert main(["report", "--journal", str(book.done()), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "attributed markout per venue (sweep regression" in printed
    attributed = printed[printed.index("attributed markout per venue"):]
    attributed = attributed[:attributed.index(f"\n{COMMON} ") + len(COMMON) + 2]  # the size buckets follow
    rows = [line.split()[0] for line in attributed.splitlines() if (line and line[0] in "ABCD") or line.startswith(COMMON)]
    assert rows == ["A", "B", "C", COMMON]  # D had a child but never filled
    assert "1s bps ± CI" in attributed and "10s bps ± CI" in attributed
    document = json.loads((out / "report.json").read_text())
    assert [v["venue"] for v in document["venues"]] == ["A", "B", "C", "D"]
    assert [v["venue"] for v in document["attributed"]["venues"]] == ["A", "B", "C"]  # D never filled
    first = document["attributed"]["venues"][0]["markouts"][0]
    assert set(first) == {"horizon_seconds", "sweeps", "bps", "se_bps", "ci95_low_bps", "ci95_high_bps"}
    assert document["attributed"]["common"]["sweeps"] == len(_sweeps(book))
    assert "size_buckets" in document and "attributed" not in document["size_buckets"][0]
    assert (out / "attributed_markouts.png").read_bytes()[:8] == PNG_SIGNATURE
    assert str(out / "attributed_markouts.png") in printed


def _sweeps(book: Book) -> set[str]:
    import sqlite3
    connection = sqlite3.connect(book.path)
    keys = {child.rsplit(".", 1)[0] for (child,) in connection.execute("SELECT child_id FROM fills")}
    connection.close()
    return keys


def test_exact_sweeps_give_exact_moves_in_the_reports_sign():
    """Sweeps without noise: each venue's move and the common one come back exactly, positive =
    in our favour; one venue's fills are share-weighted within the sweep; no sweeps at a horizon: NaN."""
    truth = {"V1": -10.0, "V2": 0.0, "V10": 4.0}
    common = -1.0
    sets = [("V1",), ("V2",), ("V10",), ("V1", "V2"), ("V2", "V10")] * 3
    fills = []
    for s, venues in enumerate(sets):
        bps = common + sum(truth[v] for v in venues)
        for venue in venues:
            for quantity, extra in ((100, 3.0), (300, -1.0)):  # share-weighted: (300 - 300) / 400 = 0
                fills.append({"venue": venue, "child_id": f"P.1.{s}.{venue}", "quantity": quantity,
                              "bps": {1.0: bps + extra, **({5.0: bps} if venue != "V10" else {})}})
    result = attribute(fills, (1.0, 5.0), ["V1", "V2", "V10", "V11"])
    assert [row.venue for row in result.venues] == ["V1", "V2", "V10"]  # V11: no fill, absent
    for venue, bps in truth.items():
        assert result.row(venue).move(1.0).bps == pytest.approx(bps, abs=1e-6)
        assert result.row(venue).move(1.0).se_bps == pytest.approx(0.0, abs=1e-5)
    assert result.common.move(1.0).bps == pytest.approx(common, abs=1e-6)
    assert result.row("V10").sweeps == 6 and result.common.sweeps == len(sets)
    at_five = result.row("V10").move(5.0)
    assert at_five.sweeps == 0 and np.isnan(at_five.bps) and np.isnan(at_five.se_bps)
    v10 = format_attributed(result)[-3].split()
    assert v10[0] == "V10" and v10[-1] == "-"  # no sweep at 5 s: printed as "-"


# -- standard errors -----------------------------------------------------------------------------

def regression_rows(seed: int = 3, sweeps: int = 500, venues: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(filled shares, adverse markouts) of noisy sweeps; the last venue never fills."""
    rng = np.random.default_rng(seed)
    happened = rng.random((sweeps, venues)) < [0.5, 0.6, 0.3, 0.0][:venues]
    shares = np.where(happened, rng.integers(100, 1_000, happened.shape), 0).astype(float)
    move = 2.0 + 8.0 * happened[:, 0] + rng.normal(0.0, 4.0, sweeps)
    markouts = np.where(happened, move[:, None] + rng.normal(0.0, 2.0, happened.shape), np.nan)
    return shares, markouts


def design_of(shares: np.ndarray, markouts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Independently: the regression's rows z = (1, x) and y = share-weighted mean markout."""
    happened = shares > 0
    keep = happened.any(axis=1)
    y = np.nansum(shares * np.where(happened, markouts, 0.0), axis=1)[keep] / shares.sum(axis=1)[keep]
    return np.column_stack([np.ones(keep.sum()), happened[keep]]).astype(float), y


def test_standard_errors_are_the_classic_least_squares_ones_without_a_prior():
    shares, markouts = regression_rows()
    fit = SweepAttribution(4, prior_fills=0.0)
    fit.record(shares, markouts)
    z, y = design_of(shares, markouts)
    x = z[:, :4]  # the venue that never filled is no column
    beta, rss, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    assert rank == 4
    s2 = rss[0] / (len(y) - 4)
    np.testing.assert_allclose(fit.coefficients()[:4], beta, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(fit.standard_errors()[:4], np.sqrt(s2 * np.diag(np.linalg.inv(x.T @ x))), rtol=1e-6)
    assert np.isnan(fit.standard_errors()[4])
    assert fit.squares == pytest.approx(y @ y)


def test_standard_errors_with_a_ridge_are_the_sandwich_around_the_ridge_fit():
    shares, markouts = regression_rows(seed=5, sweeps=200)
    fit = SweepAttribution(4, prior_fills=10.0)
    fit.record(shares, markouts)
    z, y = design_of(shares, markouts)
    ridge = np.diag([1e-9, 10.0, 10.0, 10.0, 10.0])
    inverse = np.linalg.inv(z.T @ z + ridge)
    theta = inverse @ z.T @ y
    np.testing.assert_allclose(fit.coefficients(), theta, rtol=1e-9, atol=1e-9)
    residuals = y - z @ theta
    s2 = residuals @ residuals / (len(y) - 4)
    expected = np.sqrt(np.diag(s2 * inverse @ z.T @ z @ inverse))
    np.testing.assert_allclose(fit.standard_errors()[:4], expected[:4], rtol=1e-6)
    assert np.isnan(fit.standard_errors()[4])


def test_standard_errors_are_nan_without_more_sweeps_than_columns_and_after_an_old_snapshot():
    fit = SweepAttribution(2, prior_fills=0.0)
    assert np.isnan(fit.standard_errors()).all()
    fit.record(np.array([[100.0, 0.0], [0.0, 100.0], [100.0, 100.0]]), np.array([[1.0, np.nan], [np.nan, 2.0], [3.0, 4.0]]))
    assert np.isnan(fit.standard_errors()).all()  # 3 sweeps, 3 columns
    fit.record(np.array([100.0, 0.0]), np.array([5.0, np.nan]))
    assert np.isfinite(fit.standard_errors()).all()
    snapshot = fit.snapshot()
    assert float(snapshot["squares"]) == pytest.approx(1 + 4 + 3.5 ** 2 + 25)
    restored = SweepAttribution(2, prior_fills=0.0)
    restored.restore(snapshot)
    np.testing.assert_allclose(restored.standard_errors(), fit.standard_errors())
    old = SweepAttribution(2, prior_fills=0.0)
    old.restore({key: value for key, value in snapshot.items() if key != "squares"})  # from before the squares
    assert old.squares == 0.0
    np.testing.assert_array_equal(old.coefficients(), fit.coefficients())
    assert np.isnan(old.standard_errors()).all()  # not a falsely narrow 0


# -- natural order -------------------------------------------------------------------------------

def test_venues_are_in_natural_order():
    names = ["V10", "V2", "V1", "V12", "V11", "V3", "LIT", "V01"]
    assert sorted(names, key=natural_key) == ["LIT", "V01", "V1", "V2", "V3", "V10", "V11", "V12"]
    assert sorted(["X2-B", "X10-A", "X2-A"], key=natural_key) == ["X2-A", "X2-B", "X10-A"]


def test_the_report_lists_venues_in_natural_order(book):
    parent = book.parent("p1", 5_000)
    for k, venue in enumerate(("V10", "V2", "V1", "V12", "V11")):
        book.fill(parent, venue, 100, {1.0: float(k)}, child_id=f"p1.1.{k}.{venue}")
    report = venue_report(book.done())
    order = ["V1", "V2", "V10", "V11", "V12"]
    assert [row.venue for row in report.venues] == order
    assert [row.venue for row in report.attributed.venues] == order
    table = format_table(report)
    assert [table.index(f"\n{v} ") for v in order] == sorted(table.index(f"\n{v} ") for v in order)


def test_a_move_the_sweeps_cannot_separate_is_not_given():
    """V1 fills in every sweep: its move and the common one are one column twice, and so are V2 and
    V3 that always fill together; V4's sweeps (with V1) still give V4's own move."""
    rng = np.random.default_rng(1)
    fills = []
    for s in range(60):
        venues = ["V1"] + (["V2", "V3"] if s % 3 == 0 else []) + (["V4"] if s % 2 == 0 else [])
        bps = -5.0 * ("V4" in venues) + rng.normal(0.0, 1.0)
        fills += [{"venue": v, "child_id": f"P.1.{s}.{v}", "quantity": 100, "bps": {1.0: bps}} for v in venues]
    result = attribute(fills, (1.0,), ["V1", "V2", "V3", "V4"])
    for name in ("V1", "V2", "V3"):
        move = result.row(name).move(1.0)
        assert move.sweeps > 0 and np.isnan(move.bps) and np.isnan(move.se_bps), name
    assert np.isnan(result.common.move(1.0).bps)
    v4 = result.row("V4").move(1.0)
    assert v4.ci_low_bps < -5.0 < v4.ci_high_bps and v4.se_bps < 0.5
    lines = format_attributed(result)
    assert lines[-6].split() == ["V1", "60", "n/a"] and lines[-1].split() == [COMMON, "60", "n/a"]
