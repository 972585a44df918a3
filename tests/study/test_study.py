import json

import numpy as np
import pytest

from engine.allocation.liquidity import expected_fill
from engine.allocation.profiles import LiquidityParams
from engine.commands.cli import main
from engine.config import load_market
from engine.study.runner import PolicyTrace, StudyResult


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    code = main(["study", "--market", "config/markets/lse.yaml", "--rounds", "1500", "--seed", "3",
                 "--out", str(out), "--no-progress", "--regime-switch", "1000"])
    assert code == 0
    return out


def test_study_writes_the_json_schema_and_the_three_pictures(study_dir):
    document = json.loads((study_dir / "study.json").read_text())
    market = load_market("config/markets/lse.yaml")
    assert document["rounds"] == 1500 and document["seed"] == 3
    assert document["market"]["name"] == market.name and len(document["market"]["venues"]) == 12
    sizes = document["sizes"]
    assert len(sizes) >= 24 and sizes == sorted(sizes)
    assert set(document["policies"]) >= {"expgrad", "km", "parametric", "adaptive", "uniform", "oracle"}
    for policy in document["policies"].values():
        assert len(policy["allocations"]) == len(sizes)
        assert all(len(row) == 12 and sum(row) <= size + 0.001 * 12 for row, size in zip(policy["allocations"], sizes))
        for key in ("fill_ratio_last_10pct", "certified_no_regret", "us_per_round"):
            assert isinstance(policy[key], float)
    assert len(document["oracle"]["allocations"]) == len(sizes)
    for name in ("weights_map.png", "weights_evolution.png", "convergence.png", "adaptation.png"):
        assert (study_dir / name).stat().st_size > 10_000


def test_study_json_lets_anyone_recompute_the_oracle_ratio(study_dir):
    document = json.loads((study_dir / "study.json").read_text())
    swapped = load_market("config/markets/lse.yaml").with_venues_swapped("V1", "V11")
    truth = LiquidityParams.of(swapped)  # the run switched regimes: the final truth is swapped
    oracle = [expected_fill(np.array(row), truth) for row in document["oracle"]["allocations"]]
    uniform = [expected_fill(np.array(row), truth) for row in document["policies"]["uniform"]["allocations"]]
    ratios = np.array(uniform) / np.array(oracle)
    assert ratios.mean() == pytest.approx(document["policies"]["uniform"]["expected_fill_ratio_mean"], rel=1e-6)
    assert ratios.max() <= 1.0 + 1e-9


@pytest.mark.parametrize("arguments, message", [
    (["--policies", "expgrad,greedy"], "unknown policy 'greedy'"),
    (["--rounds", "-5"], "--rounds -5"),
    (["--regime-switch", "99999"], "regime switch round"),
])
def test_bad_study_arguments_exit_with_a_message(tmp_path, capsys, arguments, message):
    code = main(["study", "--market", "config/markets/lse.yaml", "--out", str(tmp_path), "--no-progress",
                 "--rounds", "200", *arguments] if "--rounds" not in arguments else
                ["study", "--market", "config/markets/lse.yaml", "--out", str(tmp_path), "--no-progress", *arguments])
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_bad_market_file_exits_with_its_name(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: X\n")
    assert main(["study", "--market", str(bad), "--out", str(tmp_path), "--no-progress"]) == 2
    assert "bad.yaml" in capsys.readouterr().err


def test_study_json_tracks_each_policy_under_the_truth_in_force(study_dir):
    adaptation = json.loads((study_dir / "study.json").read_text())["adaptation"]
    checkpoints = adaptation["checkpoints"]
    assert 1000 in checkpoints and checkpoints == sorted(checkpoints) and checkpoints[-1] == 1500
    for name, ratios in adaptation["expected_fill_ratio"].items():
        assert len(ratios) == len(checkpoints), name
        assert all(0.0 < r <= 1.0 + 1e-9 for r in ratios), name
    assert adaptation["expected_fill_ratio"]["oracle"] == pytest.approx([1.0] * len(checkpoints))
    recovery = adaptation["rounds_to_recover"]
    assert recovery["oracle"] == 0 and set(recovery) == set(adaptation["expected_fill_ratio"])


def test_rounds_to_recover_counts_until_the_ratio_stays_above_the_level():
    result = StudyResult(*([None] * 5), sizes=None, oracle_expected=None, evaluation_sizes=None,
                         oracle_allocations=None, reference_sizes=None, chunk_ends=[], traces={},
                         checkpoints=[1000, 2000, 3000, 4000, 5000, 6000])
    result.regime_switch = 2000
    cases = {"steady": [0.99] * 6, "dips": [0.99, 0.6, 0.97, 0.94, 0.96, 0.97],
             "never": [0.99, 0.6, 0.97, 0.96, 0.96, 0.9], "before": [0.5, 0.99, 0.99, 0.99, 0.99, 0.99]}
    for name, ratios in cases.items():
        result.traces[name] = PolicyTrace(name, None, None, adaptation=ratios)
    assert result.rounds_to_recover("steady") == 0
    assert result.rounds_to_recover("dips") == 3000   # back for good at round 5000
    assert result.rounds_to_recover("never") is None
    assert result.rounds_to_recover("before") == 0    # a dip before the switch does not count
