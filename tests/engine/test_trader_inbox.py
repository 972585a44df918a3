"""The trader inbox: a trader's order that QuickFIX took but the journal never got (the engine was
killed in between) is not lost: it is replayed at the next start, once; what the journal already
holds is not replayed; the file is emptied once everything in it is handled and committed."""

from __future__ import annotations

from engine.domain.messages import ReportKind
from engine.fix import translate
from engine.fix.trader_inbox import TraderInbox, inbox_entries
from tests.engine.fakes import SESSION, SYMBOL, Harness, until

SOH = "\x01"


def _new_order_text(cl_ord_id: str, quantity: int = 900) -> str:
    fields = [("8", "FIX.4.4"), ("9", "0"), ("35", "D"), ("11", cl_ord_id), ("54", "1"), ("55", SYMBOL),
              ("38", str(quantity)), ("40", "1"), ("59", "0"), ("60", "20261202-06:00:00.000"), ("10", "000")]
    return SOH.join(f"{tag}={value}" for tag, value in fields) + SOH


def test_the_inbox_keeps_messages_until_all_are_handled_and_skips_a_torn_line(tmp_path):
    inbox = TraderInbox(tmp_path / "inbox.jsonl")
    inbox.record(SESSION, _new_order_text("A1"))
    inbox.record(SESSION, _new_order_text("A2"))
    inbox.settle(handled=1)  # one still in flight to the manager: nothing may go
    assert [text for _, text in inbox_entries(inbox.path)] == [_new_order_text("A1"), _new_order_text("A2")]
    with open(inbox.path, "ab") as torn:
        torn.write(b'["FIX.4.4:DARKAGG->TRADER1", "8=FIX')  # killed mid-write
    assert len(inbox_entries(inbox.path)) == 2
    inbox.settle(handled=2)
    assert inbox_entries(inbox.path) == []
    inbox.record(SESSION, _new_order_text("A3"))  # appends from the start again
    assert [text for _, text in inbox_entries(inbox.path)] == [_new_order_text("A3")]
    inbox.close()


async def test_an_order_the_journal_never_got_is_replayed_once_and_acknowledged(tmp_path):
    lost, known = _new_order_text("LOST1"), _new_order_text("KNOWN1")
    async with Harness(tmp_path) as h:
        h.order(900, cl_ord_id="KNOWN1")  # journaled in the first run
    async with Harness(tmp_path) as h:
        h.manager.used_cl_ord_ids |= {(SESSION, "KNOWN1")}  # what Engine.start reads from the journal
        requests = [translate.trader_message(text, SESSION) for text in (known, lost)]
        assert h.manager.replay_trader_requests(requests) == 1
        h.manager.outbox.flush()
        await until(lambda: h.traders.kinds("LOST1")[:2] == [ReportKind.PENDING_NEW, ReportKind.NEW])
        assert h.traders.for_order("KNOWN1") == []  # not answered twice
        assert h.manager.replay_trader_requests(requests) == 0  # its id is taken now
