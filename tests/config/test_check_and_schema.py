"""`dark-agg config check` and `dark-agg config schema`: the shipped configs pass, broken ones fail
with exit 2 and one line per problem, and the JSON Schema editors use agrees with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from engine.commands.cli import main
from engine.commands.config import KINDS, schema_of

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "engine": [PROJECT / "config" / "engine.yaml"],
    "venues": [PROJECT / "config" / "sim_venues.yaml"],
    "market": sorted((PROJECT / "config" / "markets").glob("*.yaml")),
}


def shipped_files() -> list[Path]:
    return [path for paths in SHIPPED.values() for path in paths]


def test_every_shipped_config_passes_the_check(capsys):
    assert main(["config", "check", *map(str, shipped_files())]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(shipped_files()) and all(": ok (" in line for line in out)
    assert f"{SHIPPED['engine'][0]}: ok (engine: 12 venues, market LN LSE)" in out


def test_a_broken_file_fails_with_exit_2_and_one_line_per_problem(tmp_path, capsys):
    text = (PROJECT / "config" / "engine.yaml").read_text().replace("markets/lse.yaml", str(PROJECT / "config/markets/lse.yaml"))
    text = text.replace("restricted_file: restricted.txt", f"restricted_file: {PROJECT / 'config/restricted.txt'}")
    broken = tmp_path / "engine.yaml"
    broken.write_text(text.replace("policy: expgrad", "policy: best").replace("port: 9200", "port: high"))
    assert main(["config", "check", str(broken), str(SHIPPED["venues"][0])]) == 2
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert errors[0].startswith(f"{broken}:7: policy = 'best', expected one of 'expgrad'")
    assert errors[1] == f"{broken}:58: fix.trader.port = 'high', expected a whole number"
    assert errors[2] == "dark-agg config: 1 of 2 file(s) invalid"
    assert captured.out == f"{SHIPPED['venues'][0]}: ok (venues: 12 venues, market LN LSE)\n"


def test_a_file_of_no_known_kind_or_missing_fails(tmp_path, capsys):
    odd = tmp_path / "odd.yaml"
    odd.write_text("colour: red\n")
    assert main(["config", "check", str(odd), str(tmp_path / "missing.yaml")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith(f"{odd}: cannot tell its kind") and "no such config file" in errors[1]
    # told the kind, the same file is checked as one
    assert main(["config", "check", "--kind", "market", str(odd)]) == 2
    assert "top level: unknown key 'colour'" in capsys.readouterr().err


SECURE = {"engine": PROJECT / "config" / "engine.secure.yaml", "venues": PROJECT / "config" / "sim_venues.secure.yaml"}


def test_the_secure_configs_pass_once_their_certificates_exist_and_name_what_is_missing_before(tmp_path, capsys):
    """They name certificates under ../out/secure/ (not in the repository): checked in a copy of
    config/ beside a fresh out/, first without them, then after `secrets make-certificates`."""
    import shutil

    shutil.copytree(PROJECT / "config", tmp_path / "config")
    copies = [str(tmp_path / "config" / path.name) for path in SECURE.values()]
    assert main(["config", "check", *copies]) == 2
    assert "expected an existing file" in capsys.readouterr().err
    assert main(["secrets", "make-certificates", str(tmp_path / "out" / "secure" / "tls")]) == 0
    assert main(["config", "check", *copies]) == 0
    for kind, path in SECURE.items():
        jsonschema.validate(yaml.safe_load(path.read_text()), schema_of(kind), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_schema_is_valid_json_schema_and_accepts_the_shipped_configs(kind):
    schema = schema_of(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in SHIPPED[kind]:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("kind, path, change", [
    ("engine", "fix.trader.port", "9200"),          # a quantity as text
    ("engine", "policy", "best"),
    ("engine", "colour", "red"),                     # an unknown key
    ("engine", "sweep.max_in_flight", 0),
    ("venues", "acceptor", "threads"),
    ("venues", "symbols.VOD.L.tick", -1),
    ("market", "reference_price", "ten"),
])
def test_the_schema_and_the_loader_both_reject_a_broken_config(kind, path, change, tmp_path):
    source = SHIPPED[kind][0]
    document = yaml.safe_load(source.read_text())
    *parents, last = path.split(".") if "VOD.L" not in path else ["symbols", "VOD.L", "tick"]
    node = document
    for key in parents:
        node = node[key]
    node[last] = change
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema_of(kind), cls=jsonschema.Draft202012Validator)
    if kind != "market":
        document["market"] = str(source.parent / document["market"])
    broken = tmp_path / source.name
    broken.write_text(yaml.safe_dump(document))
    assert main(["config", "check", str(broken)]) == 2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_shipped_schema_files_are_current(kind):
    shipped = json.loads((PROJECT / "config" / "schema" / f"{kind}.schema.json").read_text())
    assert shipped == schema_of(kind), f"regenerate: dark-agg config schema {kind} --out config/schema/{kind}.schema.json"


def test_schema_prints_to_stdout(capsys):
    assert main(["config", "schema", "market"]) == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("dark-agg market profile")
