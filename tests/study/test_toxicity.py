"""The study with toxic venues: markouts, their late arrival, net-value scoring, the new outputs."""

import json
import math

import numpy as np
import pytest

from engine.allocation.netvalue import MarkoutEstimator, NetValue
from engine.commands.cli import main
from engine.config import load_market
from engine.study.report import net_summary
from engine.study.runner import run_study
from engine.study.toxicity import MarkoutFeed, NetStudy, simulate_markouts

TOXIC = "config/markets/lse_toxic.yaml"


@pytest.fixture(scope="module")
def toxic_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("toxic")
    code = main(["study", "--market", TOXIC, "--rounds", "1500", "--seed", "2", "--out", str(out), "--no-progress",
                 "--fill-value-bps", "10", "--policies", "expgrad,parametric,uniform,oracle", "--frontier", "5,20,inf"])
    assert code == 0
    return out


def test_a_net_study_writes_the_net_keys_and_the_frontier(toxic_dir):
    document = json.loads((toxic_dir / "study.json").read_text())
    net = document["net"]
    assert net["fill_value_bps"] == 10.0 and net["horizon_seconds"] == 10.0 and net["delay_rounds"] == 50
    assert net["moves"] == "learned" and net["true_moves_bps"][1] == net["true_moves_bps"][4] == 10.0
    sizes = document["sizes"]
    assert len(net["oracle"]["allocations"]) == len(sizes)
    keys = {"net_value", "net_ratio", "net_ratio_last_10pct", "expected_net_ratio_mean", "expected_net_ratio_min",
            "expected_net_ratios", "markout_cost_per_share_bps", "expected_markout_cost_per_share_bps",
            "filled_share"}
    assert set(net["policies"]) == set(net["fill_only"]) == {"expgrad", "parametric", "uniform", "oracle"}
    for name, summary in net["policies"].items():
        assert keys | {"moves_bps"} <= set(summary), name
        assert len(summary["expected_net_ratios"]) == len(sizes) and len(summary["moves_bps"]) == 12
        assert net["fill_only"][name].keys() >= keys | {"allocations"}
    oracle = net["policies"]["oracle"]
    assert oracle["expected_net_ratios"] == pytest.approx([1.0] * len(sizes))
    assert oracle["expected_markout_cost_per_share_bps"] == 0.0  # it never fills at V2 or V5
    assert all(row[1] == row[4] == 0.0 for row in net["oracle"]["allocations"])
    for name in ("expgrad", "parametric"):  # aware beats fill-only on net value, learning or not
        assert net["policies"][name]["expected_net_ratio_mean"] > net["fill_only"][name]["expected_net_ratio_mean"]
        assert max(r for r in net["policies"][name]["expected_net_ratios"]) <= 1.0 + 1e-9
    frontier = document["frontier"]
    assert frontier["fill_values_bps"] == [5.0, 20.0, None]
    assert set(frontier["policies"]) == {"expgrad", "oracle"}
    oracle_points = frontier["policies"]["oracle"]
    assert oracle_points["expected_markout_cost_bps"] == sorted(oracle_points["expected_markout_cost_bps"])
    assert oracle_points["filled_share"] == sorted(oracle_points["filled_share"])
    assert oracle_points["net_ratio"][-1] is None
    for name in ("weights_map.png", "frontier.png"):
        assert (toxic_dir / name).stat().st_size > 10_000


def test_the_fill_only_twins_are_the_study_without_a_fill_value():
    market = load_market(TOXIC)
    names = ["expgrad", "km", "oracle"]
    net = run_study(market, 900, 4, names, net=NetStudy(fill_value_bps=10.0))
    plain = run_study(market, 900, 4, names)
    clean = run_study(load_market("config/markets/lse.yaml"), 900, 4, names)  # the same liquidity, no toxicity
    for name in names:
        np.testing.assert_array_equal(net.fill_only[name].filled, plain.traces[name].filled)
        np.testing.assert_array_equal(plain.traces[name].filled, clean.traces[name].filled)
        np.testing.assert_array_equal(net.fill_only[name].final_allocations, clean.traces[name].final_allocations)
        np.testing.assert_array_equal(net.fill_only[name].markout_cost, plain.traces[name].markout_cost)
    assert clean.traces["expgrad"].markout_cost is None and clean.markouts is None
    np.testing.assert_array_equal(plain.oracle_allocations, clean.oracle_allocations)


def test_markouts_follow_the_venues_toxicity():
    market = load_market(TOXIC)
    rounds = 40_000
    markouts = simulate_markouts(market, rounds, 1, NetStudy(fill_value_bps=10.0, markout_noise_bps=5.0))
    mean, spread = markouts.mean(axis=0), markouts.std(axis=0)
    truth = market.expected_moves_bps(10.0)
    sd = np.where(truth > 0, np.sqrt(0.25 * 400.0 + 25.0), 5.0)
    assert np.all(np.abs(mean - truth) < 4 * sd / math.sqrt(rounds))
    np.testing.assert_allclose(spread, sd, rtol=0.03)
    half = simulate_markouts(market, 10, 1, NetStudy(fill_value_bps=10.0, horizon_seconds=0.25, markout_noise_bps=0.0))
    assert set(np.unique(half[:, 1])) <= {0.0, 10.0}  # 20 bps over 0.5 s: 10 bps by 0.25 s


def test_learning_the_moves_costs_little_against_being_told_them():
    market = load_market(TOXIC)
    learned = run_study(market, 3_000, 5, ["expgrad"], net=NetStudy(fill_value_bps=20.0, twins=False))
    told = run_study(market, 3_000, 5, ["expgrad"], net=NetStudy(fill_value_bps=20.0, twins=False, true_moves=True))
    a, b = net_summary(learned, "expgrad"), net_summary(told, "expgrad")
    assert abs(a["expected_net_ratio_mean"] - b["expected_net_ratio_mean"]) < 0.03
    assert b["moves_bps"][1] == 10.0 and abs(a["moves_bps"][1] - 10.0) < 2.0


@pytest.mark.parametrize("arguments, message", [
    (["--fill-value-bps", "nan"], "fill value"),
    (["--fill-value-bps", "10", "--markout-delay", "0"], "markout delay"),
    (["--frontier", "5,-inf"], "--frontier"),
])
def test_bad_toxicity_arguments_exit_with_a_message(tmp_path, capsys, arguments, message):
    code = main(["study", "--market", TOXIC, "--out", str(tmp_path), "--no-progress", "--rounds", "200", *arguments])
    assert code == 2
    assert message in capsys.readouterr().err


def test_the_estimator_learns_each_venues_move_from_markouts_that_arrive_late():
    """Two venues filled every round: one half-informed (20 bps moves), one clean, markouts with 5 bps
    noise, delivered 50 rounds late. The estimate is within 4 standard errors of the truth (plus the
    shrinkage's known bias), and nothing of the last 50 rounds has arrived."""
    rng = np.random.default_rng(11)
    rounds, delay = 4_000, 50
    informed = rng.random((rounds, 2)) < np.array([0.5, 0.0])
    markouts = np.where(informed, 20.0, 0.0) + rng.normal(0.0, 5.0, (rounds, 2))
    filled = np.where(rng.random((rounds, 2)) < 0.6, rng.integers(1, 2_000, (rounds, 2)), 0).astype(float)
    net = NetValue(2, fill_value_bps=10.0, estimator=MarkoutEstimator(2, prior_fills=10.0))
    feed = MarkoutFeed(net, markouts, delay)
    for start in range(0, rounds, 7):  # played and delivered in uneven batches
        feed.deliver(start)
        feed.played(start, filled[start:start + 7])
    feed.deliver(rounds)
    assert feed.delivered_rounds == rounds - delay + 1
    arrived = filled[:rounds - delay + 1] > 0
    n = arrived.sum(axis=0)
    assert np.array_equal(net.estimator.fills, n)
    truth = np.array([10.0, 0.0])
    spread = np.sqrt(np.array([0.25 * 20.0 ** 2, 0.0]) + 5.0 ** 2)
    bias = truth * 10.0 / (n + 10.0)
    assert np.all(np.abs(net.moves_bps() - truth) <= 4 * spread / np.sqrt(n) + bias)
    np.testing.assert_allclose(net.values(), 10.0 - net.moves_bps())
