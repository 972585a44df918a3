"""Every problem of a config file is reported at once, each naming the file, the YAML line, the
location in the document, the value and what was expected; for all three file kinds."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.config import ConfigError, engine_config_from_dict, load_engine_config, load_market
from sim_venues.host_config import load_config

MARKET = """\
name: M
reference_price: 10.0
order_notional: {min: 1000, max: 100000}
venues:
  - {name: A, fill_probability: 0.2, tail_exponent: 0.8, min_size: 10, max_size: 1000}
  - {name: B, fill_probability: 0.5, tail_exponent: 1.2, min_size: 100, max_size: 5000, lot_size: 100}
"""

ENGINE = """\
market: market.yaml
symbols: [VOD.L]
journal: journal.sqlite
policy: expgrad
sweep:
  deadline_ms: 250
  max_in_flight: 4
fix:
  store_path: store
  trader:
    port: 9200
    sender_comp_id: DARKAGG
    sessions: [TRADER1]
venue_defaults: {sender_comp_id: DARKAGG}
venues:
  - {name: A, port: 9101, target_comp_id: DARK01}
  - {name: B, port: 9102, target_comp_id: DARK02, session: {store: file, reset_time: "05:30:00"}}
"""

VENUES = """\
market: market.yaml
seed: 7
symbols:
  VOD.L: {reference_price: 25.0, tick: 0.01}
venue_defaults: {target_comp_id: DARKAGG, time_in_force: [IOC, DAY]}
venues:
  - {name: A, port: 9101, sender_comp_id: DARK01}
  - {name: B, port: 9102, sender_comp_id: DARK02, mode: book, book: {capacity: 100, replenish_per_second: 10}}
"""

LOADERS = {"engine.yaml": load_engine_config, "venues.yaml": load_config, "market.yaml": load_market}


def write(folder: Path, name: str, text: str, *replacements: tuple[str, str]) -> Path:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "market.yaml").write_text(MARKET) if name != "market.yaml" else None
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(folder: Path, name: str, text: str, *replacements: tuple[str, str]) -> list[str]:
    path = write(folder, name, text, *replacements)
    with pytest.raises(ConfigError) as caught:
        LOADERS[name](path)
    return [problem.removeprefix(f"{path}:") for problem in caught.value.problems]


def test_the_valid_files_load(tmp_path):
    engine = load_engine_config(write(tmp_path, "engine.yaml", ENGINE))
    assert [v.name for v in engine.venues] == ["A", "B"] and engine.venue_profiles[1].lot_size == 100
    assert engine.venues[1].session.store == "file" and engine.fix.store_path == tmp_path / "store"
    host = load_config(write(tmp_path, "venues.yaml", VENUES))
    assert host.venues[1].book.capacity == 100 and host.reference_price("VOD.L") == 25.0
    assert load_market(write(tmp_path, "market.yaml", MARKET)).venues[1].max_size == 5000


@pytest.mark.parametrize("name, text, replacement, expected", [
    # a quantity given as text is an error, not a silent conversion
    ("engine.yaml", ENGINE, ("max_in_flight: 4", 'max_in_flight: "4"'),
     "7: sweep.max_in_flight = '4', expected a whole number"),
    ("engine.yaml", ENGINE, ("deadline_ms: 250", "deadline_ms: 0"), "6: sweep.deadline_ms = 0, expected a number > 0"),
    ("engine.yaml", ENGINE, ("port: 9200", "port: 92000"), "11: fix.trader.port = 92000, expected a whole number <= 65535"),
    ("engine.yaml", ENGINE, ("policy: expgrad", "policy: oracle"),
     "4: policy = 'oracle', expected one of 'expgrad', 'expgrad-order', 'km', 'parametric', 'adaptive' or 'uniform'"),
    ("engine.yaml", ENGINE, ("sessions: [TRADER1]", "sessions: [TRADER 1]"),
     "13: fix.trader.sessions[0] = 'TRADER 1', expected a non-empty CompID without spaces or |"),
    ("engine.yaml", ENGINE, ('reset_time: "05:30:00"', 'reset_time: "5:30"'),
     "17: venues[1].session.reset_time = '5:30', expected a UTC time of day as HH:MM:SS (quoted in YAML)"),
    ("engine.yaml", ENGINE, ("journal: journal.sqlite\n", "journal: journal.sqlite\ncolour: red\n"),
     "4: top level: unknown key 'colour' (value 'red'); expected one of ['fix', 'journal', 'log_format', "
     "'log_level', 'market', 'market_data', 'metrics', 'ops', 'policy', 'risk', 'seed', 'sweep', 'symbols', 'trips', 'venues', 'weights']"),
    ("engine.yaml", ENGINE, ("    port: 9200\n", ""), "10: fix.trader: missing key 'port'"),
    # a bad default is reported once, where it is written, not once per venue
    ("engine.yaml", ENGINE, ("{sender_comp_id: DARKAGG}", "{sender_comp_id: DARKAGG, min_qty: 0}"),
     "14: venue_defaults.min_qty = 0, expected a whole number >= 1"),
    ("engine.yaml", ENGINE, ("{name: A, port: 9101", "{name: Z, port: 9101"),
     "16: venues[0].name = 'Z', expected a venue of the market file ['A', 'B']"),
    ("engine.yaml", ENGINE, ("  store_path: store\n  trader:\n", "  trader:\n    store: memory\n"),
     "17: venues[1].session.store = 'file', expected fix.store_path set (the venue file stores live under it)"),
    ("venues.yaml", VENUES, ("tick: 0.01", "tick: -0.01"), "4: symbols.VOD.L.tick = -0.01, expected a number > 0"),
    ("venues.yaml", VENUES, ("mode: book, book: {capacity: 100, replenish_per_second: 10}", "mode: book"),
     "8: venues[1].book = None, expected a book section when mode is book"),
    ("venues.yaml", VENUES, ("port: 9102", "port: 9101"),
     "8: venues[1].port = 9101, expected a value no other venue has (venues[0].port has it too)"),
    ("venues.yaml", VENUES, ("[IOC, DAY]", "[IOC, GTC]"),
     "5: venue_defaults.time_in_force[1] = 'GTC', expected one of 'IOC' or 'DAY'"),
    ("venues.yaml", VENUES, ("capacity: 100,", "capacity: 100, initial: 500,"),
     "8: venues[1].book.initial = 500, expected a whole number <= capacity (100)"),
    ("market.yaml", MARKET, ("min_size: 10,", "min_size: 2.5,"), "5: venues[0].min_size = 2.5, expected a whole number"),
    ("market.yaml", MARKET, ("fill_probability: 0.2", "fill_probability: 1.5"),
     "5: venues[0].fill_probability = 1.5, expected a number <= 1"),
    ("market.yaml", MARKET, ("max_size: 5000", "max_size: 50"),
     "6: venues[1].max_size = 50, expected a whole number of shares > min_size (100)"),
    ("market.yaml", MARKET, ("reference_price: 10.0", "reference_price: ten"),
     "2: reference_price = 'ten', expected a number"),
])
def test_one_bad_value_gives_its_located_message(tmp_path, name, text, replacement, expected):
    assert problems_of(tmp_path, name, text, replacement) == [expected]


def test_several_bad_values_give_all_of_them_in_file_order(tmp_path):
    found = problems_of(tmp_path, "engine.yaml", ENGINE, ("policy: expgrad", "policy: best"),
                        ("deadline_ms: 250", "deadline_ms: soon"), ("port: 9102", "port: 0"),
                        ("sessions: [TRADER1]", "sessions: []"))
    assert found == [
        "4: policy = 'best', expected one of 'expgrad', 'expgrad-order', 'km', 'parametric', 'adaptive' or 'uniform'",
        "6: sweep.deadline_ms = 'soon', expected a number",
        "13: fix.trader.sessions = [], expected at least 1 item(s)",
        "17: venues[1].port = 0, expected a whole number >= 1",
    ]
    found = problems_of(tmp_path, "market.yaml", MARKET, ("tail_exponent: 0.8", "tail_exponent: -1"),
                        ("lot_size: 100", "lot_size: 0"), ("{min: 1000,", "{min: -5,"))
    assert found == ["3: order_notional.min = -5, expected a number > 0",
                     "5: venues[0].tail_exponent = -1, expected a number > 0",
                     "6: venues[1].lot_size = 0, expected a whole number >= 1"]


def test_a_broken_market_file_is_reported_with_its_own_locations(tmp_path):
    engine = write(tmp_path, "engine.yaml", ENGINE)
    (tmp_path / "market.yaml").write_text(MARKET.replace("min_size: 10,", "min_size: -10,"))
    with pytest.raises(ConfigError) as caught:
        load_engine_config(engine)
    assert caught.value.problems == [
        f"{engine}:1: market = 'market.yaml', expected a readable, valid market file (its problems follow)",
        f"{tmp_path / 'market.yaml'}:5: venues[0].min_size = -10, expected a whole number >= 1"]


def test_a_missing_file_and_malformed_yaml_are_named(tmp_path):
    with pytest.raises(ConfigError, match="no such engine config"):
        load_engine_config(tmp_path / "nope.yaml")
    (tmp_path / "broken.yaml").write_text("venues: [unclosed")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(tmp_path / "broken.yaml")


def test_a_document_built_in_code_gets_the_same_messages_without_file_and_line(tmp_path):
    (tmp_path / "market.yaml").write_text(MARKET)
    import yaml

    document = yaml.safe_load(ENGINE)
    document["venues"][0]["port"] = "9101"
    with pytest.raises(ConfigError) as caught:
        engine_config_from_dict(document, base_dir=tmp_path)
    assert caught.value.problems == ["venues[0].port = '9101', expected a whole number"]
