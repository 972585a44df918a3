"""Every child is checked again just before it leaves: an allocation defect (here a policy double
that asks for far too much) cannot send an absurd order, whatever the parent's checks said."""

from __future__ import annotations

import asyncio

import numpy as np

from engine.allocation.policies import Allocation
from tests.engine.fakes import Harness, answer_all, until

RISK = {"reference_prices": {"VOD.L": 25.0}, "child": {"max_quantity": {"hard": 500}}}


def broken_allocation(shares_per_venue: int):
    """A policy defect: every venue asked for ``shares_per_venue`` whatever the parent's quantity."""
    def allocate(symbol, quantity, rules, available):
        children = np.where(available, shares_per_venue, 0).astype(np.int64)
        return Allocation(quantity, children, children.astype(np.float64))
    return allocate


async def test_children_over_the_child_limit_or_the_parents_quantity_never_reach_a_venue(tmp_path):
    async with Harness(tmp_path, risk=RISK) as h:
        h.weights.allocate = broken_allocation(10_000)  # over the child limit and the parent's 1,000
        h.order(1000)
        await asyncio.sleep(0.2)  # several sweep intervals: every one is refused
        assert h.venues.submitted == []
        assert not h.parent("C1").is_final and h.parent("C1").cum_qty == 0


async def test_a_sweep_sends_only_the_children_within_the_parents_unreserved_quantity(tmp_path):
    async with Harness(tmp_path, risk=RISK) as h:
        h.weights.allocate = broken_allocation(400)  # 3 venues x 400 = 1,200 for a parent of 1,000
        h.order(1000)
        sent = await h.children(2)
        await asyncio.sleep(0.05)
        first_sweep = [c for c in h.venues.submitted if c.child_id.split(".")[2] == "1"]
        assert [c.quantity for c in first_sweep] == [400, 400]  # the third would exceed the 200 left
        assert sum(c.quantity for c in sent) <= 1000
        answer_all(h, first_sweep, fraction=0.0)
        await until(lambda: h.parent("C1").unreserved > 0)  # the refused venue left nothing reserved
