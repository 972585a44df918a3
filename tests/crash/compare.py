"""The crash check's verdict: what the venues really did, against what the engine journaled and what
the trader was told. Pure functions over plain rows (no files, no processes), so canned inputs can
prove each problem is detected.

The venues' ground-truth log is the truth about fills: a venue writes an order's line before it sends
a single report, so a fill there is a fill that happened, whatever the engine heard. The trader's own
records (what it sent, the OrderIDs and CumQty it was told) are the second independent witness. The
journal is what is being checked; it is never trusted to decide what should have happened.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from engine.domain.ids import parent_of

DUPLICATE_CL_ORD_ID = 6  # OrdRejReason a venue gives a ClOrdID it has seen before
EXAMPLES_KEPT = 5        # per problem, in the JSON report: enough to debug, short enough to read
TRADER_FILLED, TRADER_CANCELED = "2", "4"

# Problem counts: each must be zero for a crash-safe engine. Everything else counted is information.
PROBLEMS = ("lost", "overfilled", "differing", "trader_differing", "reused", "unfinished", "double_booked",
            "left_open")
JOURNAL_FINAL_STATES = ("filled", "canceled", "expired", "rejected")


@dataclass(frozen=True)
class SentParent:
    """A parent as the trader sent it (the checker's own record)."""

    cl_ord_id: str
    side: str
    symbol: str
    quantity: int


@dataclass
class Evidence:
    truth: list[dict]                  # ground-truth lines, every venue process of the run
    parents: list[dict]                # journal rows
    children: list[dict]
    fills: list[dict]
    sent: list[SentParent]
    trader_cum_qty: dict[str, float]   # the parent's ClOrdID -> the CumQty the trader was last told
    trader_order_ids: dict[str, list[str]]  # the parent's ClOrdID -> the OrderIDs (our parent ids) it was told
    trader_final: dict[str, str]       # the parent's ClOrdID -> OrdStatus of its final report (absent: none)


@dataclass
class Findings:
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def problems(self) -> dict[str, int]:
        return {name: self.counts.get(name, 0) for name in PROBLEMS}

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def add(self, name: str, examples: list[dict]) -> None:
        self.counts[name] = len(examples)
        self.examples[name] = examples[:EXAMPLES_KEPT]


# -- the truth ----------------------------------------------------------------------------------


def venue_orders(truth: Iterable[dict]) -> dict[str, list[dict]]:
    """Child id -> the order events venues logged for it (more than one means the id was reused)."""
    orders: dict[str, list[dict]] = defaultdict(list)
    for record in truth:
        if record.get("event") == "order":
            orders[record["cl_ord_id"]].append(record)
    return orders


def venue_fills_by_child(orders: dict[str, list[dict]]) -> dict[str, int]:
    """Shares each child really filled: every order event counts, a reused id's second order too."""
    return {child: sum(int(o.get("filled") or 0) for o in events) for child, events in orders.items()}


def venue_fills_by_parent(fills: dict[str, int]) -> dict[str, int]:
    """Parent id -> shares its children filled; the parent is read from the id by the engine's own
    rule (ids.parent_of), never parsed here. Ids that name no parent of ours are left out."""
    by_parent: dict[str, int] = defaultdict(int)
    for child, filled in fills.items():
        parent = parent_of(child)
        if parent is not None:
            by_parent[parent] += filled
    return dict(by_parent)


# -- the problems -------------------------------------------------------------------------------


def lost_fills(fills: dict[str, int], orders: dict[str, list[dict]], children: list[dict],
               journal_fills: list[dict]) -> list[dict]:
    """Children a venue filled that the journal lacks, or holds with less than the venue filled."""
    journaled = {row["child_id"]: row for row in children}
    fill_rows: dict[str, int] = defaultdict(int)
    for row in journal_fills:
        fill_rows[row["child_id"]] += int(row["quantity"])
    lost = []
    for child, filled in sorted(fills.items()):
        row = journaled.get(child)
        cum = int(row["cum_qty"]) if row is not None else None
        if filled > 0 and (cum is None or cum < filled):
            lost.append({"child_id": child, "venue": orders[child][0].get("venue"), "venue_filled": filled,
                         "journal_cum_qty": cum, "journal_fill_rows": fill_rows.get(child, 0),
                         "shares_lost": filled - (cum or 0)})
    return lost


def overfilled_parents(by_parent: dict[str, int], quantity: dict[str, int]) -> list[dict]:
    return [{"parent_id": parent, "venue_filled": filled, "quantity": quantity.get(parent)}
            for parent, filled in sorted(by_parent.items())
            if parent in quantity and filled > quantity[parent]]


def differing_parents(by_parent: dict[str, int], parents: list[dict]) -> list[dict]:
    """Parents whose journaled CumQty is not what their children really filled (a parent the venues
    filled for but the journal lacks counts, with journal_cum_qty None)."""
    journaled = {row["parent_id"]: int(row["cum_qty"]) for row in parents}
    differing = []
    for parent in sorted(set(by_parent) | set(journaled)):
        truth, cum = by_parent.get(parent, 0), journaled.get(parent)
        if (cum or 0) != truth:
            differing.append({"parent_id": parent, "venue_filled": truth, "journal_cum_qty": cum})
    return differing


def trader_differing(by_parent: dict[str, int], parent_ids: dict[str, list[str]],
                     trader_cum_qty: dict[str, float], sent: list[SentParent]) -> list[dict]:
    """Trader orders whose CumQty, as the trader was told, is not what their children really filled."""
    differing = []
    for order in sent:
        truth = sum(by_parent.get(parent, 0) for parent in parent_ids.get(order.cl_ord_id, ()))
        told = trader_cum_qty.get(order.cl_ord_id, 0.0)
        if told != truth:
            differing.append({"cl_ord_id": order.cl_ord_id, "parent_ids": parent_ids.get(order.cl_ord_id, []),
                              "venue_filled": truth, "trader_cum_qty": told})
    return differing


def reused_ids(orders: dict[str, list[dict]], truth: Iterable[dict]) -> list[dict]:
    """Child ids a venue saw more than once: two order events, or refused as a duplicate."""
    def example(child: str) -> dict:
        events = orders.get(child, [])
        return {"child_id": child, "order_venues": [e.get("venue") for e in events],
                "filled": [e.get("filled") for e in events], "duplicate_rejects": []}

    duplicates = {child: example(child) for child, events in orders.items() if len(events) > 1}
    for record in truth:
        if record.get("event") == "rejected" and _reason(record) == DUPLICATE_CL_ORD_ID:
            child = record["cl_ord_id"]
            duplicates.setdefault(child, example(child))["duplicate_rejects"].append(record.get("venue"))
    return [duplicates[child] for child in sorted(duplicates)]


def unjournaled_children(orders: dict[str, list[dict]], children: list[dict]) -> list[dict]:
    """Children a venue received that the journal holds no row for, filled or not. Not a loss by
    itself (a fill reported later can still be booked), but a child that left without a row is
    one the engine cannot reserve shares for or ask about after a crash: information the counts
    next to a lost fill or an overfill make sense of."""
    journaled = {row["child_id"] for row in children}
    return [{"child_id": child, "venue": events[0].get("venue"),
             "filled": sum(int(e.get("filled") or 0) for e in events), "at": events[0].get("ts")}
            for child, events in sorted(orders.items()) if child not in journaled and parent_of(child) is not None]


def unfinished_orders(sent: list[SentParent], trader_final: dict[str, str]) -> list[dict]:
    """Orders the trader never got a final report for, even after cancelling them at the end."""
    return [{"cl_ord_id": order.cl_ord_id, "quantity": order.quantity} for order in sent
            if order.cl_ord_id not in trader_final]


def left_open(parents: list[dict]) -> list[dict]:
    """Parents the journal holds as still working after the end: the trader had every order done or
    cancelled by then, so each one is an order the two sides disagree about."""
    return [{"parent_id": row["parent_id"], "cl_ord_id": row.get("orig_cl_ord_id"), "state": row["state"],
             "cum_qty": row["cum_qty"]} for row in parents if row["state"] not in JOURNAL_FINAL_STATES]


def double_booked(parent_ids: dict[str, list[str]]) -> list[dict]:
    """Trader orders the engine holds under more than one parent (a resent order booked again)."""
    return [{"cl_ord_id": order, "parent_ids": ids} for order, ids in sorted(parent_ids.items()) if len(ids) > 1]


# -- all of it ----------------------------------------------------------------------------------


def parents_of_orders(evidence: Evidence) -> dict[str, list[str]]:
    """Trader ClOrdID -> the engine's parent ids for it, from the journal (OrigClOrdID) and from the
    OrderIDs the trader was told: either witness alone would hide a parent the other one knows."""
    ids: dict[str, set[str]] = defaultdict(set)
    sent = {order.cl_ord_id for order in evidence.sent}
    for row in evidence.parents:
        if row["orig_cl_ord_id"] in sent:
            ids[row["orig_cl_ord_id"]].add(row["parent_id"])
    for order, order_ids in evidence.trader_order_ids.items():
        ids[order].update(i for i in order_ids if i and i != "NONE")
    return {order: sorted(parents) for order, parents in ids.items()}


def compare(evidence: Evidence) -> Findings:
    orders = venue_orders(evidence.truth)
    fills = venue_fills_by_child(orders)
    by_parent = venue_fills_by_parent(fills)
    parent_ids = parents_of_orders(evidence)
    # A parent's quantity is what the trader sent (the journal's own figure is under test); parents
    # no trader order maps to are held to the journal's quantity.
    quantity = {row["parent_id"]: int(row["quantity"]) for row in evidence.parents}
    sent_quantity = {order.cl_ord_id: order.quantity for order in evidence.sent}
    for order, parents in parent_ids.items():
        for parent in parents:
            quantity[parent] = sent_quantity[order]

    findings = Findings()
    lost = lost_fills(fills, orders, evidence.children, evidence.fills)
    findings.add("lost", lost)
    findings.counts["lost_shares"] = sum(e["shares_lost"] for e in lost)
    findings.add("overfilled", overfilled_parents(by_parent, quantity))
    findings.add("differing", differing_parents(by_parent, evidence.parents))
    findings.add("trader_differing", trader_differing(by_parent, parent_ids, evidence.trader_cum_qty, evidence.sent))
    findings.add("reused", reused_ids(orders, evidence.truth))
    findings.add("unfinished", unfinished_orders(evidence.sent, evidence.trader_final))
    findings.add("double_booked", double_booked(parent_ids))
    findings.add("left_open", left_open(evidence.parents))
    findings.add("unjournaled_children", unjournaled_children(orders, evidence.children))  # information

    findings.counts.update(
        parents=len(evidence.sent),
        child_orders=sum(len(events) for events in orders.values()),
        child_fills=sum(1 for filled in fills.values() if filled > 0),
        filled_shares=sum(fills.values()),
        ended_filled=sum(1 for status in evidence.trader_final.values() if status == TRADER_FILLED),
        ended_canceled=sum(1 for status in evidence.trader_final.values() if status == TRADER_CANCELED),
        ended_otherwise=sum(1 for status in evidence.trader_final.values()
                            if status not in (TRADER_FILLED, TRADER_CANCELED)),
        child_rejects=sum(1 for r in evidence.truth if r.get("event") == "rejected"),
        foreign_orders=sum(1 for child in orders if parent_of(child) is None),
        disconnects=sum(1 for r in evidence.truth if r.get("event") == "disconnect"),
    )
    return findings


def _reason(record: dict) -> int | None:
    try:
        return int(record.get("reason"))
    except (TypeError, ValueError):
        return None
