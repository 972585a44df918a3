"""The engine's start-up warm-up leaves nothing to compile for the live sweeps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

# Run in a fresh process: numba's dispatchers are process-wide, and other tests compile kernels.
SCRIPT = r"""
import importlib, json, pkgutil, sys, tempfile
from pathlib import Path
import numpy as np
import numba
import engine.allocation
from engine.allocation.rules import VenueRules
from engine.app import _warm_up, build_weights
from engine.config import load_engine_config
from engine.process.launch import write_run_configs

def signatures():
    counts = {}
    for info in pkgutil.iter_modules(engine.allocation.__path__):
        module = importlib.import_module(f"engine.allocation.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, numba.core.registry.CPUDispatcher):
                counts[f"{info.name}.{name}"] = len(value.signatures)
    return counts

result = {}
with tempfile.TemporaryDirectory() as tmp:
    for policy in sys.argv[1].split(","):
        configs = write_run_configs(Path(tmp) / policy, engine_overrides={"policy": policy})
        config = load_engine_config(configs.engine)
        _warm_up(build_weights(config), config)
        before = signatures()
        weights = build_weights(config)
        rules = VenueRules.of(config.venue_profiles)
        everywhere = np.ones(len(config.venues), dtype=np.bool_)
        draws = np.random.default_rng(7)
        for round_ in range(1_100):  # past expgrad's first refit, at round 1,000
            allocation = weights.allocate("VOD.L", 240_000, rules, everywhere)
            filled = np.minimum(allocation.children, draws.integers(0, 3_000, len(everywhere))).astype(float)
            weights.observe("VOD.L", allocation, filled)
        after = signatures()
        result[policy] = sorted(name for name in after if after[name] != before.get(name, 0))
print(json.dumps(result))
"""


def test_live_sweeps_compile_nothing_after_the_warm_up():
    done = subprocess.run([sys.executable, "-c", SCRIPT, "expgrad,parametric,adaptive,km"], cwd=PROJECT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    compiled_while_live = json.loads(done.stdout.strip().splitlines()[-1])
    assert compiled_while_live == {"expgrad": [], "parametric": [], "adaptive": [], "km": []}
