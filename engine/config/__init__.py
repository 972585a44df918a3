"""Configuration: every file the product reads, declared once as frozen pydantic dataclasses.

- :mod:`engine.config.fields`: the shared field types and rules (strict numbers, CompIDs, paths);
- :mod:`engine.config.loading`: YAML in, a config object or every located problem out;
- :mod:`engine.config.market`: market files -> the allocation core's MarketProfile;
- :mod:`engine.config.engine`: the engine's file (`dark-agg run --config`).

The sim venues' file is declared beside the simulator (sim_venues/host_config.py) with the same
fields and loading. The allocation core and the domain never see pydantic: they get MarketProfile,
VenueProfile and plain values.
"""

from engine.config.engine import (EngineConfig, FixConfig, SessionRules, SweepConfig, TraderConfig,
                                  VenueSessionConfig, VenueSessionPolicy, WeightsConfig, engine_config_from_dict,
                                  load_engine_config)
from engine.config.loading import ConfigError, read_document
from engine.config.market import dump_market, load_market, market_from_dict, market_to_dict

__all__ = ["ConfigError", "EngineConfig", "FixConfig", "SessionRules", "SweepConfig", "TraderConfig",
           "VenueSessionConfig", "VenueSessionPolicy", "WeightsConfig", "dump_market", "engine_config_from_dict",
           "load_engine_config", "load_market", "market_from_dict", "market_to_dict", "read_document"]
