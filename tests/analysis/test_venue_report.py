"""The venue report from hand-built journals: share-weighted markouts and their CIs, fill rates
without rejected children, size buckets at their edges, horizons from the data, and the command."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from engine.analysis.venue_report import ALL_VENUES, ReportError, format_table, size_bucket, venue_report
from engine.commands.cli import main
from engine.journal import Journal

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 1_700_000_000.0


class Book:
    """A journal with the engine's schema, filled row by row with plain SQL."""

    def __init__(self, path: Path) -> None:
        Journal(path).close()  # the schema, as the engine creates it
        self.path = path
        self.connection = sqlite3.connect(path)
        self.count = 0

    def parent(self, parent_id: str, original_quantity: int, side: str = "buy") -> str:
        self.connection.execute(
            "INSERT INTO parents (parent_id, session, cl_ord_id, orig_cl_ord_id, side, symbol, quantity, "
            "original_quantity, order_type, time_in_force, state, cum_qty, notional, sweeps, created_at) "
            "VALUES (?, 'T', ?, ?, ?, 'XYZ', ?, ?, 'limit', 'day', 'filled', 0, 0, 1, ?)",
            (parent_id, parent_id, parent_id, side, original_quantity, original_quantity, T0))
        return parent_id

    def child(self, parent_id: str, venue: str, quantity: int, cum_qty: int, state: str = "filled",
              sent_at: float = T0) -> str:
        self.count += 1
        child_id = f"c{self.count}"
        self.connection.execute("INSERT INTO children VALUES (?,?,?,1,?,NULL,NULL,?,?,0,0,?,NULL)",
                                (child_id, parent_id, venue, quantity, state, cum_qty, sent_at))
        return child_id

    def fill(self, parent_id: str, venue: str, quantity: int, markouts: dict[float, float] | None = None,
             at: float = T0, child_id: str = "c0") -> str:
        self.count += 1
        exec_id = f"e{self.count}"
        self.connection.execute("INSERT INTO fills VALUES (?,?,?,?,?,10.0,1,0,?,10.0)",
                                (venue, exec_id, child_id, parent_id, quantity, at))
        for horizon, bps in (markouts or {}).items():
            self.connection.execute("INSERT INTO markouts VALUES (?,?,?,?,?)", (venue, exec_id, horizon, bps, at + horizon))
        return exec_id

    def done(self) -> Path:
        self.connection.commit()
        self.connection.close()
        return self.path


def weighted(bps: list[float], shares: list[float]) -> tuple[float, float]:
    """Independently: the share-weighted mean and its standard error with n_eff = (sum w)^2 / sum w^2,
    the variance numpy's reliability-weighted covariance."""
    x, w = np.array(bps, dtype=float), np.array(shares, dtype=float)
    mean = np.average(x, weights=w)
    variance = np.cov(x, aweights=w)
    n_eff = w.sum() ** 2 / (w ** 2).sum()
    return float(mean), float(np.sqrt(variance / n_eff))


@pytest.fixture
def book(tmp_path) -> Book:
    return Book(tmp_path / "journal.sqlite")


def two_venues(book: Book) -> dict[str, list[tuple[int, float, float]]]:
    """Fills (shares, bps at 1 s, bps at 10 s) at two venues, for one parent of 5,000 shares."""
    parent = book.parent("p1", 5_000)
    data = {"A": [(100, 2.0, 4.0), (300, -1.0, 1.0), (600, 0.5, -2.0)],
            "B": [(200, -3.0, -5.0), (200, -1.0, -4.0), (500, -2.0, -6.0), (100, 4.0, 0.0)]}
    for venue, rows in data.items():
        for shares, one, ten in rows:
            book.fill(parent, venue, shares, {1.0: one, 10.0: ten})
    return data


def test_markouts_are_share_weighted_with_their_confidence_intervals(book):
    data = two_venues(book)
    report = venue_report(book.done())
    assert report.horizons == (1.0, 10.0)
    assert [row.venue for row in report.venues] == ["A", "B"]
    for row in report.venues:
        shares = [s for s, _, _ in data[row.venue]]
        assert row.fills == len(shares) and row.filled_shares == sum(shares)
        assert row.mean_fill_size == pytest.approx(sum(shares) / len(shares))
        for k, horizon in enumerate((1.0, 10.0)):
            mean, se = weighted([r[1 + k] for r in data[row.venue]], shares)
            markout = row.markout(horizon)
            assert markout.fills == len(shares)
            assert markout.mean_bps == pytest.approx(mean)
            assert markout.se_bps == pytest.approx(se)
            assert (markout.ci_low_bps, markout.ci_high_bps) == pytest.approx((mean - 1.96 * se, mean + 1.96 * se))
    everything = data["A"] + data["B"]
    mean, se = weighted([r[1] for r in everything], [r[0] for r in everything])
    assert report.total.venue == ALL_VENUES
    assert report.total.fills == 7
    assert report.total.markout(1.0).mean_bps == pytest.approx(mean)
    assert report.total.markout(1.0).se_bps == pytest.approx(se)
    # not the per-fill mean
    assert report.venues[0].markout(1.0).mean_bps != pytest.approx(np.mean([2.0, -1.0, 0.5]))


def test_the_interval_shrinks_like_one_over_root_n(book):
    parent = book.parent("p1", 50_000)
    pattern = [3.0, -1.0, 0.0, 2.0, -4.0]
    for venue, repeats in (("SMALL", 4), ("LARGE", 64)):
        for _ in range(repeats):
            for bps in pattern:
                book.fill(parent, venue, 100, {10.0: bps})
    report = venue_report(book.done())
    small, large = (next(r for r in report.venues if r.venue == name).markout(10.0) for name in ("SMALL", "LARGE"))
    assert small.mean_bps == pytest.approx(large.mean_bps)
    n, ss = len(pattern), sum((x - np.mean(pattern)) ** 2 for x in pattern)
    # k repeats of the pattern (equal sizes): sample variance k ss / (k n - 1), se^2 = that / (k n)
    assert small.se_bps == pytest.approx(math.sqrt(4 * ss / (4 * n - 1) / (4 * n)))
    assert small.se_bps / large.se_bps == pytest.approx(math.sqrt((64 * n - 1) / (4 * n - 1)))
    # 16x the fills: the interval about 4x narrower
    assert small.se_bps / large.se_bps == pytest.approx(4.0, rel=0.05)
    assert (small.ci_high_bps - small.ci_low_bps) / (large.ci_high_bps - large.ci_low_bps) == pytest.approx(
        small.se_bps / large.se_bps)


def test_one_fill_has_a_mean_but_no_interval(book):
    parent = book.parent("p1", 500)
    book.fill(parent, "A", 100, {1.0: 2.5})
    report = venue_report(book.done())
    markout = report.venues[0].markout(1.0)
    assert markout.fills == 1 and markout.mean_bps == 2.5
    assert math.isnan(markout.se_bps) and math.isnan(markout.ci_low_bps)
    assert "+2.50 ± n/a (1)" in format_table(report)
    assert report.to_dict()["venues"][0]["markouts"][0]["ci95_low_bps"] is None


def test_the_fill_rate_leaves_out_rejected_children(book):
    parent = book.parent("p1", 10_000)
    book.child(parent, "A", 1_000, 400)
    book.child(parent, "A", 1_000, 0, state="canceled")
    book.child(parent, "A", 5_000, 0, state="rejected")
    book.child(parent, "B", 2_000, 0, state="rejected")
    book.fill(parent, "A", 400)
    report = venue_report(book.done())
    a, b = report.venues
    assert a.fill_rate == pytest.approx(400 / 2_000)
    assert a.children == 2 and a.rejected_children == 1
    assert b.venue == "B" and math.isnan(b.fill_rate) and b.fills == 0 and b.rejected_children == 1
    assert report.total.fill_rate == pytest.approx(400 / 2_000)


@pytest.mark.parametrize(("quantity", "bucket"), [(1, "<1k"), (999, "<1k"), (1_000, "1k-10k"), (9_999, "1k-10k"),
                                                  (10_000, "10k-100k"), (99_999, "10k-100k"), (100_000, "100k-1M"),
                                                  (999_999, "100k-1M"), (1_000_000, ">=1M"), (None, "unknown")])
def test_size_bucket_edges(quantity, bucket):
    assert size_bucket(quantity) == bucket


def test_fills_go_to_their_parents_size_bucket(book):
    small, edge = book.parent("small", 999), book.parent("edge", 1_000)
    book.fill(small, "A", 100, {1.0: 1.0})
    book.fill(small, "B", 200, {1.0: 3.0})
    book.fill(edge, "A", 300, {1.0: -2.0})
    book.child(edge, "A", 1_000, 300)
    book.fill("gone", "B", 50, {1.0: 0.0})  # a parent the journal lacks
    report = venue_report(book.done())
    assert [b.name for b in report.buckets] == ["<1k", "1k-10k", "unknown"]  # only buckets with fills
    under, at = report.buckets[0], report.buckets[1]
    assert [(r.venue, r.fills, r.filled_shares) for r in under.venues] == [("A", 1, 100), ("B", 1, 200)]
    assert under.total.markout(1.0).mean_bps == pytest.approx((100 * 1.0 + 200 * 3.0) / 300)
    assert [(r.venue, r.fills, r.filled_shares) for r in at.venues] == [("A", 1, 300)]
    assert at.venues[0].fill_rate == pytest.approx(0.3)
    table = format_table(report)
    assert "parents of <1k shares" in table and "parents of 10k-100k" not in table


def test_the_horizons_are_the_ones_in_the_journal(book):
    parent = book.parent("p1", 2_000)
    book.fill(parent, "A", 100, {0.5: 1.0, 5.0: 2.0, 300.0: 3.0})
    book.fill(parent, "A", 100, {0.5: 2.0, 300.0: 5.0})  # its 5 s markout not settled
    report = venue_report(book.done())
    assert report.horizons == (0.5, 5.0, 300.0)
    row = report.venues[0]
    assert [m.fills for m in row.markouts] == [2, 1, 2]
    assert row.markout(300.0).mean_bps == pytest.approx(4.0)
    assert "0.5s bps" in format_table(report) and "300s bps" in format_table(report)


def test_since_keeps_the_later_fills_and_children(book):
    parent = book.parent("p1", 2_000)
    book.fill(parent, "A", 100, {1.0: -10.0}, at=T0)
    book.child(parent, "A", 100, 100, sent_at=T0)
    book.fill(parent, "A", 100, {1.0: 4.0}, at=T0 + 100)
    book.child(parent, "A", 400, 100, sent_at=T0 + 100)
    report = venue_report(book.done(), since=T0 + 50)
    row = report.venues[0]
    assert row.fills == 1 and row.markout(1.0).mean_bps == 4.0 and row.fill_rate == pytest.approx(0.25)
    with pytest.raises(ReportError, match="no fills at or after"):
        venue_report(book.path, since=T0 + 1_000)


def test_the_command_prints_the_table_and_writes_the_json_and_plots(book, tmp_path, capsys):
    two_venues(book)
    book.fill(book.parent("big", 20_000), "A", 1_000, {1.0: 0.0, 10.0: 1.0})
    out = tmp_path / "report"
    assert main(["report", "--journal", str(book.done()), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "positive = the price" in printed and "all venues" in printed
    assert "report.json" in printed and "markout_curve.png" in printed
    document = json.loads((out / "report.json").read_text())
    assert document["horizons_seconds"] == [1.0, 10.0]
    assert [v["venue"] for v in document["venues"]] == ["A", "B"]
    assert [b["bucket"] for b in document["size_buckets"]] == ["1k-10k", "10k-100k"]
    assert document["total"]["fills"] == 8
    for name in ("markouts_by_venue.png", "markout_curve.png", "markouts_by_size.png"):
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE, name
        assert str(out / name) in printed


def test_fills_without_markouts_still_give_fills_and_fill_rates(book, tmp_path, capsys):
    parent = book.parent("p1", 3_000)
    book.child(parent, "A", 1_000, 500)
    book.fill(parent, "A", 200)
    book.fill(parent, "A", 300)
    out = tmp_path / "report"
    assert main(["report", "--journal", str(book.done()), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "markouts need the engine's market-data feed" in printed
    assert "0.500" in printed and "250" in printed  # fill rate, mean fill size
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]  # no plots: nothing to draw
    document = json.loads((out / "report.json").read_text())
    assert document["horizons_seconds"] == [] and document["venues"][0]["mean_fill_size"] == 250


def test_the_command_refuses_what_it_cannot_report(book, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "--journal", str(tmp_path / "absent.sqlite"), "--out", str(out)]) == 2
    assert "no journal at" in capsys.readouterr().err

    empty = book.done()
    assert main(["report", "--journal", str(empty), "--out", str(out)]) == 2
    assert "no fills" in capsys.readouterr().err

    old = Book(tmp_path / "old.sqlite")
    old.fill(old.parent("p1", 100), "A", 100)
    old.connection.execute("DROP TABLE markouts")
    assert main(["report", "--journal", str(old.done()), "--out", str(out)]) == 2
    assert "no markouts table" in capsys.readouterr().err

    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database, just bytes" * 100)
    assert main(["report", "--journal", str(garbage), "--out", str(out)]) == 2
    assert "not a readable engine journal" in capsys.readouterr().err
    assert not out.exists()
