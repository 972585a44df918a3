"""What `dark-agg ops` prints: pure functions from the engine's JSON answers to text.

The status is drawn as plain aligned tables (no dependency, copies cleanly into a ticket or a chat);
the limits as YAML, the form they are configured in. Every function takes what the engine sent and
tolerates a missing field, so an older or newer engine still prints something useful.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Sequence

import yaml

NOTHING = "-"
COLUMN_GAP = "  "


def render_status(status: dict) -> str:
    """The status command's result as sections: trading state, sessions, venues, usage, journal."""
    at = status.get("at")
    heading = f"Engine at {_clock(at)}" if at is not None else "Engine"
    if not status.get("started", True):
        heading += " (still starting)"
    lines = [heading, *_trading(status.get("halts") or [], at)]
    sessions = [(s.get("kind"), s.get("name"), _yes_no(s.get("logged_on"))) for s in status.get("sessions") or []]
    lines += _section("Sessions", ("kind", "name", "logged on"), "lll", sessions)
    lines += _section("Venues", ("name", "enabled", "logged on", "recent children", "fill rate", "disabled reason"),
                      "lllrrl", [_venue_row(v) for v in status.get("venues") or []])
    lines += ["", f"Working parents: {status.get('working_parents', 0)}"]
    lines += _section("Limit usage", ("session", "open notional", "max", "used", "filled today", "max", "used",
                                      "working parents"),
                      "lrrrrrrr", [_usage_row(u) for u in status.get("usage") or []])
    lines += ["", _journal(status)]
    extra = status.get("extra")
    if extra:
        lines += ["", "Other:"] + [f"  {key}: {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines)


def render_limits(result: dict) -> str:
    """limits_show's result: the limits in force as YAML, then the changes operators made."""
    text = yaml.safe_dump({"limits": result.get("limits", {})}, sort_keys=False, default_flow_style=False).rstrip()
    changes = result.get("changes") or []
    if not changes:
        return text + "\n\nNo changes since the engine started."
    rows = [(_clock(c.get("at")), c.get("origin"), c.get("key"), _cell(c.get("value"))) for c in changes]
    return "\n".join([text, "", "Changes:", *table(("at", "origin", "key", "value"), rows, "llll", indent="  ")])


def render_message(result: Any) -> str:
    """Any other command's result: its message (the desk always gives one), else the raw JSON."""
    if isinstance(result, dict) and isinstance(result.get("message"), str):
        return result["message"]
    return json.dumps(result, indent=2, sort_keys=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str, indent: str = "  ") -> list[str]:
    """Rows under their headers, each column as wide as its widest cell; ``align`` one l or r per column."""
    cells = [list(headers)] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = []
    for row in cells:
        parts = [cell.rjust(width) if side == "r" else cell.ljust(width)
                 for cell, width, side in zip(row, widths, align)]
        lines.append((indent + COLUMN_GAP.join(parts)).rstrip())
    return lines


def percent(used: float | None, maximum: float | None) -> str:
    """``used`` as a share of ``maximum`` ("-" without a maximum)."""
    if used is None or maximum is None or maximum <= 0:
        return NOTHING
    return f"{100.0 * used / maximum:.1f}%"


def _trading(halts: list[dict], at: float | None) -> list[str]:
    if not halts:
        return ["Trading: ACTIVE"]
    state = "HALTED" if any(h.get("scope") == "global" for h in halts) else "PARTLY HALTED"
    rows = [(h.get("scope"), h.get("key"), h.get("reason"), h.get("origin"), _clock(h.get("at"), at),
             "automatic" if h.get("automatic") else "operator") for h in halts]
    return [f"Trading: {state} ({len(halts)} halt{'s' if len(halts) != 1 else ''})",
            *table(("scope", "key", "reason", "origin", "since", "by"), rows, "llllll")]


def _venue_row(venue: dict) -> tuple:
    rate = venue.get("recent_fill_rate")
    return (venue.get("name"), _yes_no(venue.get("enabled")), _yes_no(venue.get("logged_on")),
            venue.get("recent_children", 0), NOTHING if rate is None else f"{100.0 * rate:.1f}%",
            venue.get("disabled_reason"))


def _usage_row(usage: dict) -> tuple:
    open_notional, max_open = usage.get("open_notional"), usage.get("max_open_notional")
    filled, max_daily = usage.get("filled_today"), usage.get("max_daily_notional")
    return (usage.get("session"), _amount(open_notional), _amount(max_open), percent(open_notional, max_open),
            _amount(filled), _amount(max_daily), percent(filled, max_daily), usage.get("working_parents", 0))


def _journal(status: dict) -> str:
    writable = status.get("journal_writable", True)
    lag_ms = 1000.0 * float(status.get("journal_lag_seconds") or 0.0)
    return f"Journal: {'writable' if writable else 'NOT WRITABLE'}, lag {lag_ms:.0f} ms"


def _section(title: str, headers: Sequence[str], align: str, rows: list[tuple]) -> list[str]:
    return ["", f"{title}:", *(table(headers, rows, align) if rows else ["  (none)"])]


def _clock(epoch: float | None, reference: float | None = None) -> str:
    """HH:MM:SS UTC; with the date when it is not the reference's day (a halt left from yesterday)."""
    if epoch is None:
        return NOTHING
    moment = time.gmtime(epoch)
    same_day = reference is None or time.gmtime(reference)[:3] == moment[:3]
    return time.strftime("%H:%M:%S UTC" if same_day else "%Y-%m-%d %H:%M:%S UTC", moment)


def _amount(value: float | None) -> str:
    return NOTHING if value is None else f"{value:,.0f}"


def _yes_no(flag: bool | None) -> str:
    return NOTHING if flag is None else ("yes" if flag else "no")


def _cell(value: Any) -> str:
    if value is None:
        return NOTHING
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
