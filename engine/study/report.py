"""study.json and the printed summary table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.config import market_to_dict
from engine.study.runner import RECOVERY_LEVEL, StudyResult, expected_fill_ratios


def policy_summary(result: StudyResult, name: str) -> dict:
    trace = result.traces[name]
    last = slice(int(result.rounds * 0.9), result.rounds)
    ratios = expected_fill_ratios(result, trace.final_allocations)
    return {
        "fill_ratio": _ratio(trace.filled, result.oracle_expected),
        "fill_ratio_last_10pct": _ratio(trace.filled[last], result.oracle_expected[last]),
        "expected_fill_ratio_mean": float(ratios.mean()),
        "expected_fill_ratio_min": float(ratios.min()),
        "certified_no_regret": float(trace.certified.mean()),
        "us_per_round": trace.microseconds_per_round(),
        "compile_seconds": trace.compile_seconds(),
    }


def write_study_json(result: StudyResult, path: Path) -> dict:
    document = {
        "market": market_to_dict(result.market),
        "rounds": result.rounds,
        "seed": result.seed,
        "regime_switch": result.regime_switch,
        "sizes": [int(v) for v in result.evaluation_sizes],
        "policies": {
            name: {"allocations": allocation_rows(trace.final_allocations), **policy_summary(result, name)}
            for name, trace in result.traces.items()
        },
        "oracle": {"allocations": allocation_rows(result.oracle_allocations)},
        "adaptation": adaptation_summary(result),
    }
    path.write_text(json.dumps(document, indent=1))
    return document


def adaptation_summary(result: StudyResult) -> dict:
    """Each policy's expected fill of its current allocations over the oracle's under the truth in
    force (mean over the evaluation sizes) at every checkpoint, and after a switch the rounds it took
    to stay at or above RECOVERY_LEVEL."""
    return {
        "checkpoints": list(result.checkpoints),
        "level": RECOVERY_LEVEL,
        "expected_fill_ratio": {name: [round(x, 5) for x in trace.adaptation]
                                for name, trace in result.traces.items()},
        "rounds_to_recover": ({name: result.rounds_to_recover(name) for name in result.traces}
                              if result.regime_switch is not None else None),
    }


def recovery_lines(result: StudyResult) -> list[str]:
    if result.regime_switch is None:
        return []
    parts = []
    for name in result.traces:
        rounds = result.rounds_to_recover(name)
        parts.append(f"{name} {'never' if rounds is None else f'{rounds:,}'}")
    return [f"rounds after the switch at {result.regime_switch:,} until the expected fill of the current "
            f"allocations stays >= {RECOVERY_LEVEL:.2f} of the new oracle's (checked every "
            f"{result.checkpoints[0]:,} rounds): " + ", ".join(parts)]


def summary_table(result: StudyResult) -> str:
    header = (f"{'policy':<14} {'fill/oracle':>11} {'last 10%':>9} {'final E/oracle':>14} "
              f"{'worst size':>10} {'certified':>9} {'us/round':>9} {'JIT s':>6}")
    lines = [header, "-" * len(header)]
    for name in result.traces:
        s = policy_summary(result, name)
        lines.append(f"{name:<14} {s['fill_ratio']:>11.4f} {s['fill_ratio_last_10pct']:>9.4f} "
                     f"{s['expected_fill_ratio_mean']:>14.4f} {s['expected_fill_ratio_min']:>10.4f} "
                     f"{s['certified_no_regret']:>9.3f} {s['us_per_round']:>9.1f} {s['compile_seconds']:>6.2f}")
    lines.append("fill/oracle: realised fill over the oracle's expected fill for the same rounds; "
                 "final E/oracle: expected fill of the final allocations over the oracle's, mean and "
                 "worst over the evaluation sizes; certified: share of rounds where no split could have "
                 "filled more.")
    lines.extend(recovery_lines(result))
    return "\n".join(lines)


def _ratio(filled: np.ndarray, expected: np.ndarray) -> float:
    return float(filled.sum() / max(expected.sum(), 1e-300))


def allocation_rows(allocations: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 3) for x in row] for row in allocations]
