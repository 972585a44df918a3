"""FIX <-> domain translation with canned messages, both directions. Outbound messages are also run
through the stock FIX44.xml validation the receiving side applies, and cross-checked against the
sim venues' own parser and builder."""

from __future__ import annotations

import calendar

import pytest
import quickfix as fix
from hypothesis import given
from hypothesis import strategies as st

from engine.domain.ids import ChildId, ClOrdId, ExecId, SessionKey, Symbol, VenueName
from engine.domain.messages import (BusinessRefusal, CancelChild, CancelParent, CancelRefused, InvalidParent,
                                    NewParent, ParentReport, ParentStatus, ParentStatusQuery, QueryChild,
                                    ReplaceParent, ReportKind, SubmitChild, UnsupportedMessage, VenueCancelRefused,
                                    VenueOrderStatus, VenueReport, VenueReportKind)
from engine.domain.orders import OrderType, ParentSpec, RejectReason, Side, TimeInForce
from engine.fix import translate
from engine.config.engine import DEFAULT_DATA_DICTIONARY
from engine.fix.trader_client import parse_report

SESSION = SessionKey("FIX.4.4:DARKAGG->TRADER1")
STAMP = "20260102-10:00:00.250"
DICTIONARY = fix.DataDictionary(str(DEFAULT_DATA_DICTIONARY))


def wire(text: str) -> str:
    """``|``-separated canned text -> SOH-separated, as ``message.toString()`` gives it."""
    return text.replace("|", "\x01") + "\x01"


def trader_in(body: str):
    return translate.trader_message(wire(f"8=FIX.4.4|9=99|35={body}|10=000"), SESSION)


def validate(text: str) -> dict[str, str]:
    """Complete the header as QuickFIX would when sending, then validate like the receiver does."""
    msg_type = translate.fields_of(text)["35"]
    text = text.replace(f"\x0135={msg_type}\x01", f"\x0135={msg_type}\x0149=US\x0156=THEM\x0134=7\x0152={STAMP}\x01", 1)
    serialised = fix.Message(text, False).toString()  # recomputes BodyLength and CheckSum
    DICTIONARY.validate(fix.Message(serialised, DICTIONARY, True))
    return translate.fields_of(serialised)


def _report(**changes) -> ParentReport:
    values = dict(session=SESSION, order_id="OID1", cl_ord_id=ClOrdId("C1"), exec_id=ExecId("E1"),
                  kind=ReportKind.TRADE, status=ParentStatus.PARTIALLY_FILLED, side=Side.BUY, symbol=Symbol("VOD.L"),
                  quantity=1000, cum_qty=300, leaves_qty=700, avg_px=25.005, last_qty=300, last_px=25.005,
                  last_market=VenueName("V3"), limit_price=25.1, text="fill")
    values.update(changes)
    return ParentReport(**values)


# -- trader -> engine ---------------------------------------------------------------------------


def test_a_market_day_order_becomes_a_new_parent():
    message = trader_in("D|34=5|11=C1|54=1|55=VOD.L|38=1000|40=1|60=20260102-10:00:00")
    assert message == NewParent(ParentSpec(
        session=SESSION, cl_ord_id=ClOrdId("C1"), side=Side.BUY, symbol=Symbol("VOD.L"), quantity=1000,
        order_type=OrderType.MARKET, time_in_force=TimeInForce.DAY))


def test_a_limit_ioc_order_with_min_qty_keeps_price_and_minimum():
    spec = trader_in("D|11=C2|54=2|55=BARC.L|38=500.0|40=2|44=18.25|59=3|110=100").spec
    assert (spec.side, spec.quantity, spec.order_type, spec.limit_price, spec.time_in_force, spec.min_qty) == (
        Side.SELL, 500, OrderType.LIMIT, 18.25, TimeInForce.IOC, 100)


def test_a_gtd_order_carries_its_expire_time_as_epoch_seconds():
    spec = trader_in("D|11=C3|54=1|55=VOD.L|38=10|40=1|59=6|126=20260102-10:00:00.250").spec
    assert spec.time_in_force is TimeInForce.GTD
    assert spec.expire_at == calendar.timegm((2026, 1, 2, 10, 0, 0)) + 0.25


@pytest.mark.parametrize("quantity", ["0", "-5"])
def test_zero_or_negative_whole_quantities_pass_through_for_the_manager_to_refuse(quantity):
    assert trader_in(f"D|11=C4|54=1|55=VOD.L|38={quantity}|40=1").spec.quantity == int(quantity)


@pytest.mark.parametrize("body, reason, named", [
    ("38=10.5|54=1|40=1", RejectReason.INCORRECT_QUANTITY, "'10.5'"),
    ("38=lots|54=1|40=1", RejectReason.INCORRECT_QUANTITY, "'lots'"),
    ("54=1|40=1", RejectReason.INCORRECT_QUANTITY, "None"),
    ("38=100|54=5|40=1", RejectReason.UNSUPPORTED, "'5'"),
    ("38=100|54=1|40=3", RejectReason.UNSUPPORTED, "'3'"),
    ("38=100|54=1|40=P", RejectReason.UNSUPPORTED, "'P'"),
    ("38=100|54=1|40=1|59=1", RejectReason.UNSUPPORTED, "'1'"),
    ("38=100|54=1|40=1|59=6|126=tomorrow", RejectReason.OTHER, "'tomorrow'"),
    ("38=100|54=1|40=1|110=2.5", RejectReason.INCORRECT_QUANTITY, "'2.5'"),
])
def test_an_order_the_engine_cannot_read_becomes_an_invalid_parent_with_a_reason(body, reason, named):
    invalid = trader_in(f"D|11=BAD|55=VOD.L|{body}")
    assert isinstance(invalid, InvalidParent)
    assert (invalid.session, invalid.cl_ord_id, invalid.symbol, invalid.reason) == (SESSION, "BAD", "VOD.L", reason)
    assert named in invalid.text


def test_an_invalid_parent_keeps_what_was_readable():
    invalid = trader_in("D|11=BAD|55=VOD.L|38=100|54=2|40=4")
    assert (invalid.side, invalid.quantity) == (Side.SELL, 100)
    assert trader_in("D|11=BAD|55=VOD.L|38=100|54=9|40=1").side is None


def test_the_first_occurrence_of_a_tag_wins():
    assert trader_in("D|11=C5|54=1|55=VOD.L|38=100|40=1|55=BARC.L|38=7").spec.symbol == "VOD.L"


def test_cancel_replace_and_status_requests_become_their_domain_messages():
    assert trader_in("F|11=C6-X|41=C6|54=1|55=VOD.L|38=100") == CancelParent(SESSION, ClOrdId("C6-X"), ClOrdId("C6"))
    assert trader_in("G|11=C6-R|41=C6|54=1|55=VOD.L|38=60|40=1") == ReplaceParent(SESSION, ClOrdId("C6-R"),
                                                                                 ClOrdId("C6"), 60)
    assert trader_in("G|11=C6-R|41=C6|54=1|55=VOD.L|38=6.5|40=1").quantity == 0  # unreadable: refused later
    assert trader_in("H|11=C6|54=1|55=VOD.L") == ParentStatusQuery(SESSION, ClOrdId("C6"))


def test_any_other_application_message_is_unsupported_with_its_sequence_number():
    assert trader_in("q|34=17|11=M1|530=7") == UnsupportedMessage(SESSION, "q", "17")
    assert trader_in("AF|584=S1|585=7") == UnsupportedMessage(SESSION, "AF", None)


# -- engine -> trader ---------------------------------------------------------------------------


def test_a_trade_report_carries_every_field_the_trader_needs_and_validates():
    fields = validate(translate.execution_report(_report(orig_cl_ord_id=ClOrdId("C0")), STAMP))
    expected = {"35": "8", "37": "OID1", "11": "C1", "41": "C0", "17": "E1", "150": "F", "39": "1", "54": "1",
                "55": "VOD.L", "38": "1000", "44": "25.1", "32": "300", "31": "25.005", "30": "V3", "14": "300",
                "151": "700", "6": "25.005", "58": "fill", "60": STAMP}
    assert {tag: fields.get(tag) for tag in expected} == expected
    assert "103" not in fields


def test_a_non_trade_market_report_has_no_last_fill_no_price_and_no_orig():
    fields = validate(translate.execution_report(_report(kind=ReportKind.NEW, status=ParentStatus.NEW, limit_price=None,
                                                         cum_qty=0, leaves_qty=1000, avg_px=0.0, text=None)))
    assert not {"32", "31", "30", "44", "41", "58", "103"} & set(fields)
    assert (fields["150"], fields["39"], fields["6"]) == ("0", "0", "0")


@pytest.mark.parametrize("kind, code", [(ReportKind.PENDING_NEW, "A"), (ReportKind.NEW, "0"), (ReportKind.TRADE, "F"),
                                        (ReportKind.PENDING_CANCEL, "6"), (ReportKind.CANCELED, "4"),
                                        (ReportKind.PENDING_REPLACE, "E"), (ReportKind.REPLACED, "5"),
                                        (ReportKind.REJECTED, "8"), (ReportKind.EXPIRED, "C"), (ReportKind.STATUS, "I")])
def test_every_report_kind_has_its_exec_type(kind, code):
    assert validate(translate.execution_report(_report(kind=kind)))["150"] == code


@pytest.mark.parametrize("status, code", [(ParentStatus.PENDING_NEW, "A"), (ParentStatus.NEW, "0"),
                                          (ParentStatus.PARTIALLY_FILLED, "1"), (ParentStatus.FILLED, "2"),
                                          (ParentStatus.PENDING_CANCEL, "6"), (ParentStatus.PENDING_REPLACE, "E"),
                                          (ParentStatus.CANCELED, "4"), (ParentStatus.EXPIRED, "C"),
                                          (ParentStatus.REJECTED, "8")])
def test_every_parent_status_has_its_ord_status(status, code):
    assert validate(translate.execution_report(_report(status=status)))["39"] == code


@pytest.mark.parametrize("reason, code", [(RejectReason.UNKNOWN_SYMBOL, "1"), (RejectReason.TOO_LATE, "4"),
                                          (RejectReason.UNKNOWN_ORDER, "5"), (RejectReason.DUPLICATE_ORDER, "6"),
                                          (RejectReason.UNSUPPORTED, "11"), (RejectReason.INCORRECT_QUANTITY, "13"),
                                          (RejectReason.OTHER, "99")])
def test_a_reject_carries_its_ord_rej_reason(reason, code):
    report = _report(kind=ReportKind.REJECTED, status=ParentStatus.REJECTED, reject_reason=reason, text="no")
    assert validate(translate.execution_report(report))["103"] == code


def test_a_reject_of_an_unreadable_order_still_validates():
    report = _report(order_id="", kind=ReportKind.REJECTED, status=ParentStatus.REJECTED, side=None, symbol=Symbol(""),
                     quantity=0, cum_qty=0, leaves_qty=0, avg_px=0.0, limit_price=None,
                     reject_reason=RejectReason.UNSUPPORTED, text="bad\x01text")
    fields = validate(translate.execution_report(report))
    assert (fields["37"], fields["54"], fields["55"], fields["58"]) == ("NONE", "7", "[N/A]", "bad text")


def test_cancel_refusals_become_order_cancel_rejects():
    late = validate(translate.order_cancel_reject(CancelRefused(
        SESSION, "OID1", ClOrdId("C1-X"), ClOrdId("C1"), ParentStatus.FILLED, for_replace=False, too_late=True,
        text="too late")))
    assert [late[t] for t in ("35", "37", "11", "41", "39", "434", "102", "58")] == [
        "9", "OID1", "C1-X", "C1", "2", "1", "0", "too late"]
    unknown = validate(translate.order_cancel_reject(CancelRefused(
        SESSION, "", ClOrdId("C9-R"), ClOrdId("C9"), None, for_replace=True, too_late=False, text="unknown order")))
    assert [unknown[t] for t in ("37", "39", "434", "102")] == ["NONE", "8", "2", "1"]


def test_business_refusals_become_business_message_rejects():
    fields = validate(translate.business_message_reject(BusinessRefusal(SESSION, "q", "17", "not supported")))
    assert [fields[t] for t in ("35", "45", "372", "380", "58")] == ["j", "17", "q", "3", "not supported"]
    assert "45" not in validate(translate.business_message_reject(BusinessRefusal(SESSION, "AF", None, "no")))


def test_a_report_round_trips_through_the_trader_clients_parser():
    parsed = parse_report(translate.execution_report(_report(orig_cl_ord_id=ClOrdId("C0")), STAMP), 1.5)
    assert (parsed.exec_type, parsed.ord_status, parsed.order_id, parsed.cl_ord_id, parsed.orig_cl_ord_id,
            parsed.exec_id) == ("F", "1", "OID1", "C1", "C0", "E1")
    assert (parsed.last_qty, parsed.last_px, parsed.last_mkt, parsed.cum_qty, parsed.leaves_qty, parsed.avg_px,
            parsed.text, parsed.ord_rej_reason) == (300, 25.005, "V3", 300, 700, 25.005, "fill", None)
    assert parsed.fields[60] == STAMP and parsed.received_at == 1.5 and not parsed.is_done


# -- engine -> venue ----------------------------------------------------------------------------


def test_a_child_is_a_midpoint_pegged_ioc_new_order_single():
    child = SubmitChild(VenueName("V1"), ChildId("P1.1.V1"), Side.SELL, Symbol("VOD.L"), 500, 100, 25.1)
    fields = validate(translate.new_order_single(child, STAMP))
    expected = {"35": "D", "11": "P1.1.V1", "54": "2", "55": "VOD.L", "38": "500", "40": "P", "18": "M", "59": "3",
                "110": "100", "44": "25.1", "60": STAMP}
    assert {tag: fields.get(tag) for tag in expected} == expected


def test_a_child_without_minimum_or_limit_omits_them_and_a_minimum_never_exceeds_the_child():
    plain = validate(translate.new_order_single(SubmitChild(VenueName("V1"), ChildId("P1.2.V1"), Side.BUY,
                                                            Symbol("VOD.L"), 300, None, None)))
    assert "110" not in plain and "44" not in plain
    capped = translate.fields_of(translate.new_order_single(SubmitChild(VenueName("V1"), ChildId("P1.3.V1"), Side.BUY,
                                                                        Symbol("VOD.L"), 300, 500, None)))
    assert capped["110"] == "300"


def test_the_sim_venue_reads_our_child_as_intended():
    from sim_venues.translate import new_order_from_fields

    text = translate.new_order_single(SubmitChild(VenueName("V1"), ChildId("P1.1.V1"), Side.BUY, Symbol("VOD.L"),
                                                  500, 100, 25.1))
    order = new_order_from_fields(translate.fields_of(fix.Message(text, False).toString()))  # as the venue reads it
    assert (order.cl_ord_id, order.side, order.symbol, order.quantity, order.ord_type, order.exec_inst,
            order.time_in_force, order.min_qty, order.price) == ("P1.1.V1", "1", "VOD.L", 500, "P", "M", "3", 100, 25.1)


def test_cancel_and_status_requests_name_the_child():
    cancel = validate(translate.order_cancel_request(CancelChild(VenueName("V1"), ChildId("P1.1.V1.X1"),
                                                                 ChildId("P1.1.V1"), Side.BUY, Symbol("VOD.L"), 500),
                                                     STAMP))
    assert [cancel[t] for t in ("35", "11", "41", "54", "55", "38", "60")] == [
        "F", "P1.1.V1.X1", "P1.1.V1", "1", "VOD.L", "500", STAMP]
    status = validate(translate.order_status_request(QueryChild(VenueName("V1"), ChildId("P1.1.V1"), Side.SELL,
                                                                Symbol("VOD.L"))))
    assert [status[t] for t in ("35", "11", "54", "55")] == ["H", "P1.1.V1", "2", "VOD.L"]


# -- venue -> engine ----------------------------------------------------------------------------


def venue_in(body: str):
    return translate.venue_message(wire(f"8=FIX.4.4|9=99|35={body}|10=000"), VenueName("V2"))


def test_a_venue_trade_becomes_a_venue_report():
    report = venue_in("8|37=O1|11=P1.1.V2|17=X1|150=F|39=1|54=1|55=VOD.L|38=500|32=200|31=25.005|30=V2|14=200|"
                      "151=300|6=25.005")
    assert report == VenueReport(VenueName("V2"), "P1.1.V2", "X1", VenueReportKind.TRADE,
                                 VenueOrderStatus.PARTIALLY_FILLED, 200, 25.005, 200, 300, 25.005)


def test_a_report_answering_a_cancel_names_the_child_from_orig_cl_ord_id():
    report = venue_in("8|37=O1|11=P1.1.V2.X1|41=P1.1.V2|17=X2|150=4|39=4|54=1|55=VOD.L|14=200|151=0|6=25.005|58=gone")
    assert (report.child_id, report.kind, report.status, report.leaves_qty, report.text) == (
        "P1.1.V2", VenueReportKind.CANCELED, VenueOrderStatus.CANCELED, 0, "gone")


@pytest.mark.parametrize("exec_type, kind", [("0", VenueReportKind.NEW), ("F", VenueReportKind.TRADE),
                                             ("4", VenueReportKind.CANCELED), ("8", VenueReportKind.REJECTED),
                                             ("C", VenueReportKind.EXPIRED), ("I", VenueReportKind.STATUS),
                                             ("A", VenueReportKind.PENDING), ("6", VenueReportKind.PENDING),
                                             ("E", VenueReportKind.PENDING), ("5", VenueReportKind.OTHER)])
def test_every_exec_type_has_its_kind(exec_type, kind):
    assert venue_in(f"8|11=C|17=X|150={exec_type}|39=0").kind is kind


@pytest.mark.parametrize("ord_status, status", [("A", VenueOrderStatus.PENDING_NEW), ("0", VenueOrderStatus.NEW),
                                                ("1", VenueOrderStatus.PARTIALLY_FILLED), ("2", VenueOrderStatus.FILLED),
                                                ("6", VenueOrderStatus.PENDING_CANCEL), ("4", VenueOrderStatus.CANCELED),
                                                ("8", VenueOrderStatus.REJECTED), ("C", VenueOrderStatus.EXPIRED),
                                                ("3", VenueOrderStatus.OTHER)])
def test_every_ord_status_has_its_status(ord_status, status):
    assert venue_in(f"8|11=C|17=X|150=I|39={ord_status}").status is status


def test_a_status_answer_for_an_order_the_venue_does_not_know_is_flagged():
    report = venue_in("8|37=NONE|11=P7.1.V2|17=X9|150=I|39=8|54=1|55=VOD.L|14=0|151=0|6=0|103=5|58=unknown order")
    assert report.unknown_order and report.kind is VenueReportKind.STATUS and report.child_id == "P7.1.V2"
    assert not venue_in("8|11=P7.1.V2|17=X10|150=8|39=8|103=5").unknown_order  # an order rejected on entry


def test_missing_quantities_are_none_not_zero():
    report = venue_in("8|11=C|17=X|150=0|39=0")
    assert (report.cum_qty, report.leaves_qty, report.avg_px, report.last_qty) == (None, None, None, 0.0)


def test_the_sim_venues_reports_parse_as_they_mean():
    from sim_venues.translate import execution_report_to_fix
    from sim_venues.venue import ExecReport

    sent = ExecReport("O1", "P1.1.V2", "X1", "F", "2", "1", "VOD.L", 500, 500, 0, 25.005, "V2", last_qty=500,
                      last_px=25.005, time_in_force="3")
    report = venue_in(execution_report_to_fix(sent, STAMP).toString().split("\x0135=", 1)[1].rstrip("\x01"))
    assert (report.child_id, report.kind, report.status, report.last_qty, report.cum_qty) == (
        "P1.1.V2", VenueReportKind.TRADE, VenueOrderStatus.FILLED, 500, 500)


def test_cancel_rejects_from_a_venue_say_whether_it_was_too_late():
    assert venue_in("9|37=O1|11=P1.1.V2.X1|41=P1.1.V2|39=2|434=1|102=0|58=too late") == VenueCancelRefused(
        VenueName("V2"), "P1.1.V2", True, "too late")
    assert not venue_in("9|37=NONE|11=X|41=P9.1.V2|39=8|434=1|102=1").too_late


def test_a_business_reject_from_a_venue_is_ignored():
    ignored = venue_in("j|45=3|372=D|380=3|58=no")
    assert isinstance(ignored, translate.Ignored) and ignored.msg_type == "j" and ignored.fields["58"] == "no"


# -- formatting ----------------------------------------------------------------------------------


@given(st.floats(min_value=1e-4, max_value=1e15, allow_nan=False))
def test_prices_are_plain_decimals_that_read_back_exactly(price):
    text = translate.format_price(price)
    assert "e" not in text and float(text) == price


def test_tiny_and_whole_prices_and_quantities_format_as_fix_expects():
    assert (translate.format_price(1e-05), translate.format_price(25.0), translate.format_price(float("nan"))) == (
        "0.00001", "25", "0")
    assert (translate.format_qty(100), translate.format_qty(100.0), translate.format_qty(2.5)) == ("100", "100", "2.5")


@given(st.floats(min_value=0, max_value=4e9))
def test_timestamps_round_trip_to_the_millisecond(moment):
    parsed = translate.parse_utc_timestamp(translate.utc_timestamp(moment))
    assert moment - 0.001 - 1e-6 <= parsed <= moment + 1e-6  # truncated to the millisecond, float slack
