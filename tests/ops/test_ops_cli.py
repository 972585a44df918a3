"""`dark-agg ops`: what each command line asks the engine, and the exit status of each outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog
import yaml

from engine.commands.cli import build_parser, main
from engine.commands.ops import request_of
from engine.ops.errors import OpsRefused
from engine.ops.server import OpsServer
from engine.ops.token import load_or_create_token

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "engine.yaml"


def request(*words: str) -> tuple[str, dict]:
    argv = ["ops", *words]
    return request_of(build_parser(argv).parse_args(argv))


@pytest.mark.parametrize("words,expected", [
    (["status"], ("status", {})),
    (["halt"], ("halt", {"scope": "global", "key": None, "cancel": False, "reason": "operator halt"})),
    (["halt", "--session", "TRADER2", "--cancel", "--reason", "runaway algo"],
     ("halt", {"scope": "session", "key": "TRADER2", "cancel": True, "reason": "runaway algo"})),
    (["halt", "--symbol", "VOD.L"], ("halt", {"scope": "symbol", "key": "VOD.L", "cancel": False,
                                              "reason": "operator halt"})),
    (["halt", "--venue", "V11", "--reason", "venue outage"],
     ("halt", {"scope": "venue", "key": "V11", "cancel": False, "reason": "venue outage"})),
    (["resume"], ("resume", {"scope": "global", "key": None})),
    (["resume", "--symbol", "BARC.L"], ("resume", {"scope": "symbol", "key": "BARC.L"})),
    (["venue", "disable", "V3", "--reason", "slow acks"],
     ("venue", {"action": "disable", "venue": "V3", "reason": "slow acks"})),
    (["venue", "enable", "V3"], ("venue", {"action": "enable", "venue": "V3", "reason": "operator request"})),
    (["limits", "show"], ("limits_show", {})),
    (["limits", "set", "order.max_quantity", "100000"],
     ("limits_set", {"key": "order.max_quantity", "value": "100000", "level": "hard", "scope": None,
                     "scope_key": None})),
    (["limits", "set", "session.max_open_notional", "none", "--level", "soft", "--session", "TRADER1"],
     ("limits_set", {"key": "session.max_open_notional", "value": "none", "level": "soft", "scope": "session",
                     "scope_key": "TRADER1"})),
    (["limits", "set", "reference_price", "25.5", "--symbol", "VOD.L"],
     ("limits_set", {"key": "reference_price", "value": "25.5", "level": "hard", "scope": "symbol",
                     "scope_key": "VOD.L"})),
    (["limits", "set", "child.max_orders_per_second", "50", "--venue", "V1"],
     ("limits_set", {"key": "child.max_orders_per_second", "value": "50", "level": "hard", "scope": "venue",
                     "scope_key": "V1"})),
    (["cancel-all", "--reason", "end of day"], ("cancel_all", {"reason": "end of day"})),
    (["restricted", "reload"], ("restricted_reload", {})),
])
def test_each_command_line_maps_to_its_command_and_arguments(words, expected):
    assert request(*words) == expected


@pytest.mark.parametrize("words", [["halt", "--session", "A", "--venue", "V1"], ["venue", "pause", "V1"],
                                   ["limits"], ["limits", "set", "order.max_quantity"], ["restricted"],
                                   ["limits", "set", "k", "1", "--level", "medium"], []])
def test_a_malformed_command_line_exits_2(words, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["ops", *words])
    assert exited.value.code == 2


def test_the_shared_options_work_before_and_after_the_action():
    before = build_parser(["ops"]).parse_args(["ops", "--json", "--config", "a.yaml", "limits", "show"])
    after = build_parser(["ops"]).parse_args(["ops", "limits", "show", "--json", "--config", "a.yaml"])
    plain = build_parser(["ops"]).parse_args(["ops", "status"])
    assert (before.json, before.config) == (after.json, after.config) == (True, "a.yaml")
    assert (plain.json, plain.config) == (False, "config/engine.yaml")


def write_config(directory: Path, ops: dict | None) -> Path:
    """The shipped engine config with its paths made absolute and ``ops`` as given (None: no section)."""
    data = yaml.safe_load(SHIPPED_CONFIG.read_text())
    data["market"] = str(SHIPPED_CONFIG.parent / data["market"])
    data["journal"] = str(directory / "journal.sqlite")
    data["risk"]["restricted_file"] = str(SHIPPED_CONFIG.parent / data["risk"]["restricted_file"])
    data.setdefault("fix", {})["store_path"] = str(directory / "fix_store")
    data.pop("ops", None)
    if ops is not None:
        data["ops"] = ops
    path = directory / "engine.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_status_without_an_ops_port_exits_2_saying_so(tmp_path, capsys):
    config = write_config(tmp_path, None)
    assert main(["ops", "--config", str(config), "status"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"dark-agg ops: ops.port is not set in {config}: the engine serves no operator channel")


def test_a_config_that_does_not_load_exits_2(tmp_path, capsys):
    assert main(["ops", "--config", str(tmp_path / "missing.yaml"), "status"]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_a_missing_token_file_exits_2_naming_it(tmp_path, capsys):
    config = write_config(tmp_path, {"port": 1, "token_file": str(tmp_path / "ops.token")})
    assert main(["ops", "--config", str(config), "status"]) == 2
    assert str(tmp_path / "ops.token") in capsys.readouterr().err


# -- against a real operator channel ---------------------------------------------------------------


class Desk:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, str]] = []

    def handle(self, command: str, args: dict, origin: str) -> dict:
        self.calls.append((command, args, origin))
        if command == "venue" and args["venue"] == "V99":
            raise OpsRefused("no venue V99")
        if command == "status":
            return {"at": 0.0, "started": True, "halts": [], "venues": [], "sessions": [], "usage": []}
        return {"message": f"{command}: done"}


@pytest.fixture
def channel(engine_loop, tmp_path):
    """A running channel and a config that points at it (token in the default place, beside the journal).
    The server's log lines are captured: in the same process they would mix with what the command prints."""
    token = load_or_create_token(tmp_path / "ops.token")
    desk = Desk()
    with structlog.testing.capture_logs():
        server = OpsServer("127.0.0.1", 0, token, desk.handle, engine_loop.loop)
        server.start()
        yield desk, write_config(tmp_path, {"port": server.port}), server
        server.stop()


def test_a_command_reaches_the_engine_and_its_message_is_printed(channel, capsys):
    desk, config, _ = channel
    assert main(["ops", "--config", str(config), "--operator", "carol", "halt", "--venue", "V2", "--cancel"]) == 0
    assert capsys.readouterr().out.strip() == "halt: done"
    assert desk.calls == [("halt", {"scope": "venue", "key": "V2", "cancel": True, "reason": "operator halt"},
                           "ops:carol@127.0.0.1")]


def test_status_prints_tables_or_the_raw_json(channel, capsys):
    _, config, _ = channel
    assert main(["ops", "--config", str(config), "status"]) == 0
    assert "Trading: ACTIVE" in capsys.readouterr().out
    assert main(["ops", "--config", str(config), "--json", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["started"] is True


def test_a_refused_command_exits_2_with_the_engines_reason(channel, capsys):
    _, config, _ = channel
    assert main(["ops", "--config", str(config), "venue", "disable", "V99"]) == 2
    assert capsys.readouterr().err.strip() == "dark-agg ops: no venue V99"


def test_a_token_that_is_not_the_engines_exits_3(channel, capsys):
    desk, config, _ = channel
    token_file = config.parent / "ops.token"
    token_file.write_text("someone-elses-token\n")
    assert main(["ops", "--config", str(config), "status"]) == 3
    assert f"unauthorized: the token does not match the engine's ({token_file})" in capsys.readouterr().err
    assert desk.calls == []


def test_an_engine_that_is_not_running_exits_3(channel, capsys):
    _, config, server = channel
    server.stop()
    assert main(["ops", "--config", str(config), "cancel-all"]) == 3
    assert "no engine is listening on 127.0.0.1:" in capsys.readouterr().err
