from __future__ import annotations

import calendar
import dataclasses

import yaml

from engine.manager.view import EngineView, HaltView, LimitUsage, SessionView, VenueView
from engine.ops.render import percent, render_limits, render_message, render_status, table

NOON = calendar.timegm((2024, 3, 1, 12, 0, 0))


def status_of(view: EngineView) -> dict:
    """What the engine sends for `status`: the view as a dict, plus the limits."""
    return {**dataclasses.asdict(view), "limits": {}}


def halted_engine_with_a_venue_down() -> dict:
    return status_of(EngineView(
        at=NOON, started=True,
        sessions=(SessionView("TRADER1", "trader", True), SessionView("V2", "venue", False)),
        venues=(VenueView("V1", True, True, None, 40, 0.25),
                VenueView("V2", False, False, "reject storm: 20 rejects in 10 s", 0, None)),
        halts=(HaltView("global", None, "fat finger on desk 3", "ops:alice@127.0.0.1", NOON - 3600 - 62, False),
               HaltView("venue", "V2", "reject storm", "trip: venue_rejects", NOON - 5, True)),
        working_parents=7,
        usage=(LimitUsage("TRADER1", 500_000.0, 2_000_000.0, 1_500_000.0, None, 7),),
        journal_writable=True, journal_lag_seconds=0.012))


def line_with(text: str, word: str) -> str:
    return next(line for line in text.splitlines() if word in line)


def test_a_halted_engine_shows_each_halt_with_scope_reason_origin_and_time():
    text = render_status(halted_engine_with_a_venue_down())
    assert "Trading: HALTED (2 halts)" in text
    global_halt = line_with(text, "fat finger")
    assert global_halt.split()[0] == "global"
    assert "ops:alice@127.0.0.1" in global_halt and "10:58:58 UTC" in global_halt and "operator" in global_halt
    venue_halt = line_with(text, "trip: venue_rejects")
    assert venue_halt.split()[:2] == ["venue", "V2"] and "automatic" in venue_halt


def test_a_down_venue_shows_as_disabled_and_not_logged_on_with_its_reason():
    text = render_status(halted_engine_with_a_venue_down())
    venues = text[text.index("Venues:"):text.index("Working parents")]
    assert line_with(venues, "V2").split()[:5] == ["V2", "no", "no", "0", "-"]
    assert "reject storm: 20 rejects in 10 s" in line_with(venues, "V2")
    assert line_with(venues, "V1").split()[:5] == ["V1", "yes", "yes", "40", "25.0%"]


def test_limit_usage_shows_percentages_where_a_maximum_exists():
    text = render_status(halted_engine_with_a_venue_down())
    usage = line_with(text[text.index("Limit usage:"):], "TRADER1").split()
    assert usage == ["TRADER1", "500,000", "2,000,000", "25.0%", "1,500,000", "-", "-", "7"]
    assert "Working parents: 7" in text
    assert "Journal: writable, lag 12 ms" in text


def test_an_engine_without_halts_is_active():
    text = render_status(status_of(EngineView(at=NOON, started=True, journal_writable=False)))
    assert "Trading: ACTIVE" in text and "HALTED" not in text
    assert "Journal: NOT WRITABLE" in text
    assert "(none)" in text  # empty sections say so rather than print a bare header


def test_a_venue_only_halt_is_a_partial_halt():
    halt = HaltView("venue", "V1", "maintenance", "ops:bob@::1", NOON, False)
    view = EngineView(at=NOON, started=False, halts=(halt,))
    text = render_status(status_of(view))
    assert "Trading: PARTLY HALTED (1 halt)" in text
    assert "(still starting)" in text.splitlines()[0]


def test_a_halt_from_another_day_shows_its_date():
    view = EngineView(at=NOON, started=True, halts=(HaltView("global", None, "eod", "ops:x@127.0.0.1",
                                                             NOON - 86_400, False),))
    assert "2024-02-29 12:00:00 UTC" in render_status(status_of(view))


def test_columns_are_aligned_under_their_headers():
    lines = table(("name", "count"), [("a", 1), ("longer", 12345)], "lr")
    assert [len(line) for line in lines] == [len(lines[0])] * 3
    assert lines[1].endswith("    1") and lines[2].startswith("  longer")


def test_percent_needs_a_positive_maximum():
    assert percent(50.0, 200.0) == "25.0%"
    assert percent(50.0, None) == percent(None, 10.0) == percent(1.0, 0.0) == "-"


def test_limits_print_as_yaml_that_reads_back_and_list_each_change():
    limits = {"order": {"max_quantity": {"hard": 2500000, "soft": None}}, "restricted": ["XYZ.L"],
              "reference_prices": {"VOD.L": 25.0}}
    text = render_limits({"limits": limits, "changes": [
        {"at": NOON, "origin": "ops:alice@127.0.0.1", "key": "order.max_quantity", "value": 2500000.0}]})
    yaml_part, changes = text.split("\n\nChanges:\n")
    assert yaml.safe_load(yaml_part) == {"limits": limits}
    assert changes.splitlines()[1].split() == ["12:00:00", "UTC", "ops:alice@127.0.0.1", "order.max_quantity",
                                               "2500000"]


def test_limits_without_changes_say_so():
    assert render_limits({"limits": {"order": {}}, "changes": []}).endswith("No changes since the engine started.")


def test_other_results_print_their_message_or_the_json():
    assert render_message({"message": "venue V3 disabled", "venue": "V3"}) == "venue V3 disabled"
    assert '"cancelled": 3' in render_message({"cancelled": 3})
