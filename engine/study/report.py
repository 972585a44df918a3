"""study.json and the printed summary table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.config import market_to_dict
from engine.study.runner import RECOVERY_LEVEL, StudyResult, expected_fill_ratios, expected_net_ratios


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
        **({} if trace.markout_cost is None else
           {"markout_cost_per_share_bps": float(trace.markout_cost.sum() / max(trace.filled.sum(), 1e-300))}),
    }


def net_summary(result: StudyResult, name: str, fill_only: bool = False) -> dict:
    """Net value (bps x shares) of a policy's fills, or of its fill-only twin's: realised over the run
    and its last 10% against the net-value oracle's expected net value for the same rounds, and the
    expected net value of its final allocations over the oracle's per evaluation size."""
    trace = (result.fill_only if fill_only else result.traces)[name]
    net_value = result.net.fill_value_bps * trace.filled - trace.markout_cost
    last = slice(int(result.rounds * 0.9), result.rounds)
    ratios = expected_net_ratios(result, trace.final_allocations)
    summary = {
        "net_value": float(net_value.sum()),
        "net_ratio": _ratio(net_value, result.oracle_expected_net),
        "net_ratio_last_10pct": _ratio(net_value[last], result.oracle_expected_net[last]),
        "expected_net_ratio_mean": float(ratios.mean()),
        "expected_net_ratio_min": float(ratios.min()),
        "expected_net_ratios": [round(float(x), 5) for x in ratios],
        "markout_cost_per_share_bps": float(trace.markout_cost.sum() / max(trace.filled.sum(), 1e-300)),
        "expected_markout_cost_per_share_bps": float(trace.expected_cost.sum() / max(trace.filled.sum(), 1e-300)),
        "filled_share": float(trace.filled.sum() / result.sizes.sum()),
    }
    if trace.moves_bps is not None:
        summary["moves_bps"] = [round(float(x), 4) for x in trace.moves_bps]
    return summary


def net_document(result: StudyResult) -> dict:
    net = result.net
    return {
        "fill_value_bps": net.fill_value_bps,
        "horizon_seconds": net.horizon_seconds,
        "delay_rounds": net.delay_rounds,
        "delivery_batch_rounds": net.batch(),
        "markout_noise_bps": net.markout_noise_bps,
        "prior_fills": net.prior_fills,
        "weighting": net.weighting,
        "moves": "true" if net.true_moves else "learned",
        "true_moves_bps": [float(x) for x in result.market.expected_moves_bps(net.horizon_seconds)],
        "oracle": {"allocations": allocation_rows(result.net_oracle_allocations)},
        "policies": {name: net_summary(result, name) for name in result.traces},
        "fill_only": {name: {"allocations": allocation_rows(trace.final_allocations), **net_summary(result, name, True)}
                      for name, trace in result.fill_only.items()},
    }


def write_study_json(result: StudyResult, path: Path, frontier: dict | None = None) -> dict:
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
    if result.values is not None:
        document["net"] = net_document(result)
    if frontier is not None:
        document["frontier"] = frontier
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
    if result.values is not None:
        lines.extend(["", net_table(result)])
    return "\n".join(lines)


def net_table(result: StudyResult) -> str:
    net = result.net
    moves = "the true m_i" if net.true_moves else (
        f"m_i learned from markouts {net.delay_rounds} rounds late, noise {net.markout_noise_bps:g} bps")
    lines = [f"net of adverse selection: fill value {net.fill_value_bps:g} bps, markouts at "
             f"{net.horizon_seconds:g} s ({moves}); net value over the net-value oracle's",
             f"{'':<14} {'toxicity-aware':^43} | {'fill-only':^43}"]
    columns = f"{'net/oracle':>10} {'final mean':>10} {'worst size':>10} {'cost bps':>10}"
    header = f"{'policy':<14} {columns} | {columns}"
    lines += [header, "-" * len(header)]
    for name in result.traces:
        cells = []
        for fill_only in (False, True):
            if fill_only and name not in result.fill_only:
                cells.append(f"{'':>43}")
                continue
            s = net_summary(result, name, fill_only)
            cells.append(f"{s['net_ratio']:>10.4f} {s['expected_net_ratio_mean']:>10.4f} "
                         f"{s['expected_net_ratio_min']:>10.4f} {s['expected_markout_cost_per_share_bps']:>10.2f}")
        lines.append(f"{name:<14} " + " | ".join(cells))
    lines.append("net value = sum over rounds and venues of (fill value - markout) x shares filled; net/oracle: "
                 "realised over the oracle's expected; final mean / worst size: expected net value of the "
                 "final allocations over the oracle's across the evaluation sizes; cost bps: expected markout "
                 "cost per filled share (true m_i x fills; the realised one, noise included, is in study.json).")
    return "\n".join(lines)


def _ratio(filled: np.ndarray, expected: np.ndarray) -> float:
    return float(filled.sum() / max(expected.sum(), 1e-300))


def allocation_rows(allocations: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 3) for x in row] for row in allocations]
