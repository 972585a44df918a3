"""The FIX edge over real FIX on loopback: a FixGateway between a TraderClient and the simulated venues,
delivering into a recording inbox on a real asyncio loop.

One gateway and one trader client serve the whole module (QuickFIX takes seconds to stop); tests use
their own ids. The tests run on the module's loop, so port calls happen on the loop thread as in
production, and blocking client waits go through ``asyncio.to_thread``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import re
import socket
import threading
import time
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from engine.domain.ids import ChildId, ClOrdId, ExecId, SessionKey, Symbol, VenueName
from engine.domain.messages import (BusinessRefusal, CancelChild, CancelParent, CancelRefused, InvalidParent,
                                    NewParent, ParentReport, ParentStatus, ParentStatusQuery, QueryChild,
                                    ReplaceParent, ReportKind, SubmitChild, TraderSessionChanged, UnsupportedMessage,
                                    VenueCancelRefused, VenueOrderStatus, VenueReport, VenueReportKind,
                                    VenueSessionChanged)
from engine.domain.orders import OrderType, RejectReason, Side, TimeInForce
from engine.commands import order as order_command
from engine.fix import translate
from engine.fix.bridge import LoopBridge
from engine.fix.gateway import FixGateway, GatewayError
from engine.fix.trader_client import TraderClient
from tests.engine.conftest import ENGINE_COMP_ID, ENGINE_TEST_VENUES, SYMBOL
from tests.sim_venues.fix_client import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROJECT = Path(__file__).resolve().parents[2]

TRADER = "TRADER1"
SESSION = SessionKey(f"FIX.4.4:{ENGINE_COMP_ID}->{TRADER}")
CLI_TRADER = "ORDERCLI"  # the trader `dark-agg order` logs on as in these tests
CLI_SESSION = SessionKey(f"FIX.4.4:{ENGINE_COMP_ID}->{CLI_TRADER}")


class RecordingInbox:
    """Records what the gateway delivers; raises for messages ``fail_if`` selects."""

    def __init__(self) -> None:
        self.messages: list[object] = []
        self.fail_if = lambda message: False
        self.respond = lambda message: None  # plays the order manager where a test needs answers

    def deliver(self, message: object) -> None:
        if self.fail_if(message):
            raise RuntimeError("inbox refused the message (test)")
        self.messages.append(message)
        self.respond(message)

    def matching(self, message_type: type, /, where=lambda message: True, **attributes) -> list:
        return [m for m in self.messages if isinstance(m, message_type) and where(m)
                and all(getattr(m, name) == value for name, value in attributes.items())]

    async def wait_for(self, message_type: type, /, timeout: float = 5.0, where=lambda message: True, **attributes):
        """The first delivered ``message_type`` with these attribute values for which ``where`` holds (polls;
        fails at the deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(message_type, where, **attributes)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {message_type.__name__} {attributes} within {timeout} s; got {self.messages[-5:]}")
            await asyncio.sleep(0.005)


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)


@dataclass
class Edge:
    gateway: FixGateway
    inbox: RecordingInbox
    trader: TraderClient


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def edge(make_engine_config):
    inbox = RecordingInbox()
    config = make_engine_config(trader_sessions=[TRADER, CLI_TRADER])  # trader_store: file, as in production
    gateway = FixGateway(config, inbox)
    await gateway.start()
    trader = TraderClient("127.0.0.1", config.fix.trader.port, TRADER, ENGINE_COMP_ID, config.fix.data_dictionary)
    trader.start()
    assert await asyncio.to_thread(trader.wait_logged_on, 10)
    for venue in ENGINE_TEST_VENUES:
        await inbox.wait_for(VenueSessionChanged, timeout=10, venue=venue, logged_on=True)
    yield Edge(gateway, inbox, trader)
    await asyncio.to_thread(trader.stop)
    await gateway.stop()


# -- venues ---------------------------------------------------------------------------------------


async def test_every_venue_session_logs_on_and_says_so(edge):
    for venue in ENGINE_TEST_VENUES:
        assert edge.gateway.venues.logged_on(venue)
        assert edge.inbox.matching(VenueSessionChanged, venue=venue, logged_on=True)
    assert not edge.gateway.venues.logged_on("NOWHERE")


async def test_a_child_gets_venue_reports_ending_in_a_final_status(edge):
    child = ChildId("P1.1.FULL")
    assert edge.gateway.venues.submit(SubmitChild(VenueName("FULL"), child, Side.BUY, Symbol(SYMBOL), 500, 100, None))
    final = await edge.inbox.wait_for(VenueReport, child_id=child, status=VenueOrderStatus.FILLED)
    trade = edge.inbox.matching(VenueReport, child_id=child, kind=VenueReportKind.TRADE)[0]
    assert (trade.venue, trade.last_qty, trade.cum_qty, trade.leaves_qty) == ("FULL", 500, 500, 0)
    assert trade.last_px > 0 and trade.exec_id
    assert final.cum_qty == 500 and not final.unknown_order


async def test_an_ioc_child_the_venue_cannot_fill_ends_canceled(edge):
    child = ChildId("P2.1.EMPTY")
    assert edge.gateway.venues.submit(SubmitChild(VenueName("EMPTY"), child, Side.SELL, Symbol(SYMBOL), 300, None, 25.0))
    final = await edge.inbox.wait_for(VenueReport, child_id=child, status=VenueOrderStatus.CANCELED)
    assert final.kind is VenueReportKind.CANCELED and final.cum_qty == 0 and final.leaves_qty == 0


async def test_a_single_final_report_venue_answers_with_one_trade(edge):
    child = ChildId("P3.1.SINGLE")
    assert edge.gateway.venues.submit(SubmitChild(VenueName("SINGLE"), child, Side.BUY, Symbol(SYMBOL), 200, None, None))
    final = await edge.inbox.wait_for(VenueReport, child_id=child, kind=VenueReportKind.TRADE)
    assert final.status is VenueOrderStatus.FILLED and final.last_qty == 200
    assert len(edge.inbox.matching(VenueReport, child_id=child)) == 1


async def test_a_status_query_is_answered_for_known_and_unknown_children(edge):
    child = ChildId("P4.1.FULL")
    venues = edge.gateway.venues
    assert venues.submit(SubmitChild(VenueName("FULL"), child, Side.BUY, Symbol(SYMBOL), 100, None, None))
    await edge.inbox.wait_for(VenueReport, child_id=child, status=VenueOrderStatus.FILLED)
    assert venues.query(QueryChild(VenueName("FULL"), child, Side.BUY, Symbol(SYMBOL)))
    known = await edge.inbox.wait_for(VenueReport, child_id=child, kind=VenueReportKind.STATUS)
    assert known.status is VenueOrderStatus.FILLED and known.cum_qty == 100 and not known.unknown_order
    assert venues.query(QueryChild(VenueName("FULL"), ChildId("NEVER.1.FULL"), Side.BUY, Symbol(SYMBOL)))
    unknown = await edge.inbox.wait_for(VenueReport, child_id="NEVER.1.FULL")
    assert unknown.unknown_order and unknown.kind is VenueReportKind.STATUS


async def test_a_cancel_is_refused_too_late_for_a_done_child_and_unknown_for_a_stranger(edge):
    child = ChildId("P5.1.FULL")
    venues = edge.gateway.venues
    assert venues.submit(SubmitChild(VenueName("FULL"), child, Side.BUY, Symbol(SYMBOL), 100, None, None))
    await edge.inbox.wait_for(VenueReport, child_id=child, status=VenueOrderStatus.FILLED)
    assert venues.cancel(CancelChild(VenueName("FULL"), ChildId(f"{child}.X1"), child, Side.BUY, Symbol(SYMBOL), 100))
    late = await edge.inbox.wait_for(VenueCancelRefused, child_id=child)
    assert late.too_late and late.venue == "FULL"
    stranger = ChildId("NEVER.2.FULL")
    assert venues.cancel(CancelChild(VenueName("FULL"), ChildId("NEVER.2.FULL.X1"), stranger, Side.BUY,
                                     Symbol(SYMBOL), 100))
    unknown = await edge.inbox.wait_for(VenueCancelRefused, child_id=stranger)
    assert not unknown.too_late and unknown.text


async def test_a_venue_that_drops_the_connection_is_down_until_it_logs_on_again(edge, sim_host):
    from sim_venues.host_config import FaultConfig

    venues, inbox = edge.gateway.venues, edge.inbox
    flaky = VenueName("FLAKY")
    sim_host.set_faults("FLAKY", FaultConfig(disconnect_after_orders=1))  # fires once
    assert venues.submit(SubmitChild(flaky, ChildId("P21.1.FLAKY"), Side.BUY, Symbol(SYMBOL), 100, None, None))
    await inbox.wait_for(VenueSessionChanged, venue=flaky, logged_on=False)
    assert not venues.logged_on(flaky)
    assert not venues.submit(SubmitChild(flaky, ChildId("P21.2.FLAKY"), Side.BUY, Symbol(SYMBOL), 100, None, None))
    await until(lambda: len(inbox.matching(VenueSessionChanged, venue=flaky, logged_on=True)) == 2, timeout=10)
    assert venues.submit(SubmitChild(flaky, ChildId("P21.3.FLAKY"), Side.BUY, Symbol(SYMBOL), 100, None, None))
    await inbox.wait_for(VenueReport, child_id="P21.3.FLAKY", status=VenueOrderStatus.FILLED)


async def test_sending_to_an_unknown_venue_answers_false(edge):
    assert not edge.gateway.venues.submit(SubmitChild(VenueName("NOWHERE"), ChildId("P6.1.NOWHERE"), Side.BUY,
                                                      Symbol(SYMBOL), 100, None, None))


# -- trader -> engine -----------------------------------------------------------------------------


async def test_a_trader_session_logon_is_delivered(edge):
    changed = await edge.inbox.wait_for(TraderSessionChanged, session=SESSION)
    assert changed.logged_on and edge.gateway.traders.logged_on(SESSION)


async def test_a_new_order_single_reaches_the_inbox_as_a_new_parent(edge):
    expire_at = time.time() + 3600
    assert edge.trader.send_order("T1", "sell", SYMBOL, 5000, limit=20.5, tif="GTD", expire_at=expire_at, min_qty=200)
    spec = (await edge.inbox.wait_for(NewParent, where=lambda m: m.spec.cl_ord_id == "T1")).spec
    assert (spec.session, spec.side, spec.symbol, spec.quantity) == (SESSION, Side.SELL, SYMBOL, 5000)
    assert (spec.order_type, spec.limit_price, spec.time_in_force, spec.min_qty) == (OrderType.LIMIT, 20.5,
                                                                                    TimeInForce.GTD, 200)
    assert spec.expire_at == pytest.approx(expire_at, abs=0.002)


async def test_an_order_the_engine_cannot_work_reaches_the_inbox_as_invalid(edge):
    edge.trader.raw(f"35=D|11=T2|54=1|55={SYMBOL}|38=100|40=3|99=19.0|60={translate.utc_timestamp()}")  # stop order
    stop = await edge.inbox.wait_for(InvalidParent, cl_ord_id="T2")
    assert stop.reason is RejectReason.UNSUPPORTED and "OrdType (40) '3'" in stop.text
    edge.trader.raw(f"35=D|11=T3|54=1|55={SYMBOL}|38=10.5|40=1|60={translate.utc_timestamp()}")
    fraction = await edge.inbox.wait_for(InvalidParent, cl_ord_id="T3")
    assert fraction.reason is RejectReason.INCORRECT_QUANTITY and fraction.side is Side.BUY


async def test_cancel_replace_and_status_requests_reach_the_inbox(edge):
    assert edge.trader.cancel("T4-C", "T4", "buy", SYMBOL, 1000)
    assert await edge.inbox.wait_for(CancelParent, cl_ord_id="T4-C") == CancelParent(SESSION, ClOrdId("T4-C"),
                                                                                   ClOrdId("T4"))
    assert edge.trader.replace("T4-R", "T4", "buy", SYMBOL, 600)
    assert await edge.inbox.wait_for(ReplaceParent, cl_ord_id="T4-R") == ReplaceParent(SESSION, ClOrdId("T4-R"),
                                                                                     ClOrdId("T4"), 600)
    assert edge.trader.status("T4", "buy", SYMBOL)
    assert await edge.inbox.wait_for(ParentStatusQuery, cl_ord_id="T4") == ParentStatusQuery(SESSION, ClOrdId("T4"))


async def test_an_unsupported_message_reaches_the_inbox_with_its_type_and_sequence_number(edge):
    assert edge.trader.raw(f"35=q|11=MASS1|530=7|60={translate.utc_timestamp()}")  # OrderMassCancelRequest
    unsupported = await edge.inbox.wait_for(UnsupportedMessage, msg_type="q")
    assert unsupported.session == SESSION and unsupported.ref_seq_num.isdigit()


# -- engine -> trader -----------------------------------------------------------------------------


async def test_parent_reports_reach_the_trader_intact(edge):
    trade = ParentReport(SESSION, "OID7", ClOrdId("T7"), ExecId("E7-1"), ReportKind.TRADE, ParentStatus.PARTIALLY_FILLED,
                         Side.BUY, Symbol(SYMBOL), 1000, 300, 700, 20.005, last_qty=300, last_px=20.005,
                         last_market=VenueName("FULL"), limit_price=20.5, text="first fill")
    done = ParentReport(SESSION, "OID7", ClOrdId("T7"), ExecId("E7-2"), ReportKind.TRADE, ParentStatus.FILLED,
                        Side.BUY, Symbol(SYMBOL), 1000, 1000, 0, 20.0035, last_qty=700, last_px=20.003,
                        last_market=VenueName("SINGLE"))
    assert edge.gateway.traders.report(trade) and edge.gateway.traders.report(done)
    final = await asyncio.to_thread(edge.trader.wait_done, "T7", 5)
    first = edge.trader.reports_for("T7")[0]
    assert (first.exec_type, first.ord_status, first.order_id, first.exec_id) == ("F", "1", "OID7", "E7-1")
    assert (first.last_qty, first.last_px, first.last_mkt, first.cum_qty, first.leaves_qty, first.avg_px) == (
        300, 20.005, "FULL", 300, 700, 20.005)
    assert first.fields[44] == "20.5" and first.fields[54] == "1" and first.text == "first fill"
    assert (final.ord_status, final.cum_qty, final.leaves_qty, final.last_mkt) == ("2", 1000, 0, "SINGLE")
    assert not edge.trader.session_messages  # nothing refused at session level


async def test_a_reject_with_an_unreadable_side_still_passes_validation(edge):
    reject = ParentReport(SESSION, "NONE", ClOrdId("T8"), ExecId("E8"), ReportKind.REJECTED, ParentStatus.REJECTED,
                          None, Symbol(""), 0, 0, 0, 0.0, reject_reason=RejectReason.UNSUPPORTED,
                          text="Side (54) '5' is not supported")
    assert edge.gateway.traders.report(reject)
    final = await asyncio.to_thread(edge.trader.wait_done, "T8", 5)
    assert (final.exec_type, final.ord_status, final.ord_rej_reason) == ("8", "8", "11")
    assert not edge.trader.session_messages


async def test_cancel_and_business_refusals_reach_the_trader(edge):
    traders = edge.gateway.traders
    assert traders.refuse_cancel(CancelRefused(SESSION, "OID9", ClOrdId("T9-C"), ClOrdId("T9"), ParentStatus.FILLED,
                                               for_replace=False, too_late=True, text="already filled"))
    assert traders.refuse_cancel(CancelRefused(SESSION, "", ClOrdId("T10-R"), ClOrdId("T10"), None, for_replace=True,
                                               too_late=False, text="unknown order T10"))
    assert traders.refuse_business(BusinessRefusal(SESSION, "q", "7", "OrderMassCancelRequest is not supported"))
    trader = edge.trader
    await asyncio.to_thread(trader.wait_for, lambda: len(trader.messages) >= 3, 5)
    late, unknown = trader.messages_of_type("9")
    assert [late.fields[t] for t in (37, 11, 41, 39, 434, 102)] == ["OID9", "T9-C", "T9", "2", "1", "0"]
    assert [unknown.fields[t] for t in (37, 39, 434, 102)] == ["NONE", "8", "2", "1"]
    [business] = trader.messages_of_type("j")
    assert [business.fields[t] for t in (45, 372, 380)] == ["7", "q", "3"]


async def test_a_report_for_an_unknown_session_answers_false(edge):
    stranger = ParentReport(SessionKey("FIX.4.4:AGGTEST->NOBODY"), "O", ClOrdId("X"), ExecId("E"), ReportKind.NEW,
                            ParentStatus.NEW, Side.BUY, Symbol(SYMBOL), 1, 0, 1, 0.0)
    assert not edge.gateway.traders.report(stranger)


# -- failures stay contained ------------------------------------------------------------------------


async def test_an_inbox_that_raises_costs_one_message_not_the_session(edge):
    counters = edge.gateway.counters()
    edge.inbox.fail_if = lambda m: isinstance(m, CancelParent) and m.cl_ord_id == "BOOM"
    try:
        edge.trader.cancel("BOOM", "T11", "buy", SYMBOL, 100)
        edge.trader.cancel("AFTER-BOOM", "T11", "buy", SYMBOL, 100)
        await edge.inbox.wait_for(CancelParent, cl_ord_id="AFTER-BOOM")
    finally:
        edge.inbox.fail_if = lambda m: False
    assert not edge.inbox.matching(CancelParent, cl_ord_id="BOOM")
    assert edge.gateway.counters()["delivery_errors"] == counters["delivery_errors"] + 1
    assert edge.trader.logged_on


async def test_a_failing_callback_is_counted_and_the_session_carries_on(edge, monkeypatch):
    before = edge.gateway.counters()["callback_errors"]
    real = translate.trader_message

    def explode_once(text, session):
        if "\x0111=EXPLODE\x01" in text:
            raise ValueError("translation bug (test)")
        return real(text, session)

    monkeypatch.setattr(translate, "trader_message", explode_once)
    edge.trader.cancel("EXPLODE", "T12", "buy", SYMBOL, 100)
    edge.trader.cancel("AFTER-EXPLODE", "T12", "buy", SYMBOL, 100)
    await edge.inbox.wait_for(CancelParent, cl_ord_id="AFTER-EXPLODE")
    assert edge.gateway.counters()["callback_errors"] == before + 1
    assert edge.trader.logged_on and not edge.inbox.matching(CancelParent, cl_ord_id="EXPLODE")


async def test_each_quickfix_thread_keeps_one_python_thread_state_across_callbacks(edge, monkeypatch):
    """Without keep_thread_state every callback would run in a fresh PyThreadState (ids never repeat)."""
    state_of, state_id = ctypes.pythonapi.PyThreadState_Get, ctypes.pythonapi.PyThreadState_GetID
    state_of.restype, state_id.argtypes, state_id.restype = ctypes.c_void_p, [ctypes.c_void_p], ctypes.c_uint64
    seen: list[tuple[int, int]] = []
    real = translate.venue_message_fields

    def recording(fields, venue):
        seen.append((threading.get_ident(), state_id(state_of())))
        return real(fields, venue)

    monkeypatch.setattr(translate, "venue_message_fields", recording)
    children = [ChildId(f"P20.1.FULL.{n}") for n in range(3)]
    for child in children:
        assert edge.gateway.venues.submit(SubmitChild(VenueName("FULL"), child, Side.BUY, Symbol(SYMBOL), 100, None, None))
    for child in children:
        await edge.inbox.wait_for(VenueReport, child_id=child, status=VenueOrderStatus.FILLED)
    assert len(seen) >= 3
    for thread in {ident for ident, _ in seen}:
        assert len({state for ident, state in seen if ident == thread}) == 1


# -- the bridge on its own ------------------------------------------------------------------------


async def test_the_bridge_delivers_a_burst_in_order_with_few_wakeups():
    inbox = RecordingInbox()
    bridge = LoopBridge(inbox)
    bridge.bind(asyncio.get_running_loop())
    burst = threading.Thread(target=lambda: [bridge.put(number) for number in range(5000)])
    burst.start()
    await asyncio.to_thread(burst.join)
    deadline = time.monotonic() + 5
    while len(inbox.messages) < 5000 and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    assert inbox.messages == list(range(5000))
    assert bridge.wakeups < 5000 and bridge.dropped == 0


async def test_the_bridge_drops_and_counts_when_the_loop_is_gone():
    bridge = LoopBridge(RecordingInbox())
    bridge.put("before any loop")
    closed = asyncio.new_event_loop()
    closed.close()
    bridge.bind(closed)
    bridge.put("after the loop closed")
    assert bridge.dropped == 2 and bridge.pending == 0


# -- dark-agg order --------------------------------------------------------------------------------


def _order_args(config_path: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    order_command.configure(parser)
    return parser.parse_args(["--config", str(config_path), "--side", "buy", "--qty", "1000", "--timeout", "10",
                              *extra])


def _order_config(folder: Path, trader_port: int) -> Path:
    """An engine YAML as `dark-agg order` reads it: where the trader side listens, and its CompIDs."""
    path = folder / "engine.yaml"
    path.write_text(f"""
market: {PROJECT / "config" / "markets" / "lse.yaml"}
symbols: [{SYMBOL}]
journal: journal.sqlite
fix: {{trader: {{port: {trader_port}, sender_comp_id: {ENGINE_COMP_ID}, sessions: [{CLI_TRADER}], store: memory}}}}
venues: [{{name: V1, port: 9, sender_comp_id: {ENGINE_COMP_ID}, target_comp_id: XNONE}}]
""")
    return path


def _play_manager(edge: Edge):
    """Answer each NewParent of the CLI trader like the manager would: rejected when the symbol is not
    traded, otherwise pending new, new, a partial fill and a final fill."""
    def respond(message) -> None:
        if not (isinstance(message, NewParent) and message.spec.session == CLI_SESSION):
            return
        spec = message.spec
        steps = ([(ReportKind.REJECTED, ParentStatus.REJECTED, 0, 0, {"reject_reason": RejectReason.UNKNOWN_SYMBOL,
                                                                       "text": "unknown symbol"})]
                 if spec.symbol != SYMBOL else
                 [(ReportKind.PENDING_NEW, ParentStatus.PENDING_NEW, 0, 0, {}), (ReportKind.NEW, ParentStatus.NEW, 0, 0, {}),
                  (ReportKind.TRADE, ParentStatus.PARTIALLY_FILLED, 400, 400, {"last_market": VenueName("FULL")}),
                  (ReportKind.TRADE, ParentStatus.FILLED, 1000, 600, {"last_market": VenueName("SINGLE")})])
        for number, (kind, status, cum, last, extra) in enumerate(steps):
            edge.gateway.traders.report(ParentReport(
                CLI_SESSION, "OCLI", spec.cl_ord_id, ExecId(f"{spec.cl_ord_id}-{number}"), kind, status, spec.side,
                spec.symbol, spec.quantity, cum, spec.quantity - cum if status is not ParentStatus.REJECTED else 0,
                20.0 if cum else 0.0, last_qty=last, last_px=20.0 if last else 0.0, **extra))
    return respond


async def test_dark_agg_order_prints_each_report_and_exits_by_outcome(edge, tmp_path, capsys):
    config_path = _order_config(tmp_path, edge.gateway.config.fix.trader.port)
    edge.inbox.respond = _play_manager(edge)
    try:
        filled = await asyncio.to_thread(order_command.run, _order_args(config_path, "--symbol", SYMBOL, "--limit", "21",
                                                                        "--cl-ord-id", "CLI1"))
        printed = capsys.readouterr().out.splitlines()
        rejected = await asyncio.to_thread(order_command.run, _order_args(config_path, "--symbol", "NOPE.L"))
    finally:
        edge.inbox.respond = lambda message: None
    assert filled == 0 and rejected == 1
    spec = (await edge.inbox.wait_for(NewParent, where=lambda m: m.spec.cl_ord_id == "CLI1")).spec
    assert (spec.session, spec.side, spec.quantity, spec.limit_price, spec.time_in_force) == (
        CLI_SESSION, Side.BUY, 1000, 21.0, TimeInForce.DAY)
    reports = [line for line in printed if re.match(r"\d\d:\d\d:\d\d\.\d{3}  ", line)]  # one per report
    assert [line.split()[1] for line in reports] == ["PENDING_NEW", "NEW", "TRADE", "TRADE"]
    assert "400 @ 20 on FULL" in reports[2] and "FILLED" in reports[3].split()


async def test_dark_agg_order_without_an_engine_names_where_it_tried(tmp_path, capsys):
    port = free_port()
    code = await asyncio.to_thread(order_command.run, _order_args(_order_config(tmp_path, port), "--symbol", SYMBOL,
                                                                  "--timeout", "1"))
    assert code == 2 and f"127.0.0.1:{port}" in capsys.readouterr().err


# -- lifecycle --------------------------------------------------------------------------------------


async def test_a_trader_port_in_use_is_a_gateway_error_naming_it(make_engine_config):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        config = make_engine_config(trader_port=port, trader_sessions=["SQUATTED"], trader_store="memory", venues=())
        gateway = FixGateway(config, RecordingInbox())
        with pytest.raises(GatewayError, match=str(port)):
            await gateway.start()
        await asyncio.wait_for(gateway.stop(), timeout=5)


async def test_stop_is_prompt_idempotent_and_frees_the_session_ids(make_engine_config):
    # A gateway of its own: a trader CompID nobody else uses, and a venue nobody listens on.
    venue = make_engine_config().venues[0]
    lonely = dataclasses.replace(venue, host="127.0.0.1", port=free_port(), sender_comp_id="AGGSTOP",
                                 target_comp_id="XNOBODY")
    config = make_engine_config(trader_sessions=["STOPPER"], trader_store="memory", venues=(lonely,))
    session = SessionKey(f"FIX.4.4:{ENGINE_COMP_ID}->STOPPER")
    inbox = RecordingInbox()
    gateway = FixGateway(config, inbox)
    await gateway.start()
    report = ParentReport(session, "O", ClOrdId("S1"), ExecId("E"), ReportKind.NEW, ParentStatus.NEW, Side.BUY,
                          Symbol(SYMBOL), 1, 0, 1, 0.0)
    assert not gateway.traders.report(report)  # memory store, nobody logged on: not sent
    trader = TraderClient("127.0.0.1", config.fix.trader.port, "STOPPER", ENGINE_COMP_ID)
    trader.start()
    try:
        assert await asyncio.to_thread(trader.wait_logged_on, 10)
        await inbox.wait_for(TraderSessionChanged, session=session, logged_on=True)
        assert not gateway.venues.logged_on(venue.name)
        await asyncio.wait_for(gateway.stop(), timeout=20)
        await asyncio.wait_for(gateway.stop(), timeout=1)  # a second stop has nothing to do
        await inbox.wait_for(TraderSessionChanged, session=session, logged_on=False)
        assert not gateway.traders.report(report)
        # The same CompIDs can serve again in this process (what an in-process restart needs).
        again = FixGateway(config, RecordingInbox())
        await again.start()
        await asyncio.wait_for(again.stop(), timeout=20)
    finally:
        await asyncio.to_thread(trader.stop)

