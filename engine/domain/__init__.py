"""The domain model of the aggregator: identifiers, parent and child orders, their state tables, and
the messages the order manager exchanges with its edges. Plain data and pure logic: nothing here
imports asyncio, quickfix or yaml, and time is always passed in."""
