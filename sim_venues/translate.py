"""FIX 4.4 <-> the venue's plain objects, as pure functions tests call with canned messages.

Inbound parsing never raises on content: a missing optional field becomes None and an unreadable
number becomes NaN, which validation then rejects with a reason (QuickFIX has already rejected
anything the data dictionary forbids). Outbound builders set only what FIX 4.4 defines for the
report; the session header is filled in by ``sendToTarget``.
"""

from __future__ import annotations

import math

import quickfix as fix

from sim_venues.matching import CancelRequest, NewOrder, StatusRequest
from sim_venues.venue import CancelReject, ExecReport

# FIX 4.4 tags (named here once rather than as quickfix field classes: the plain int API is faster).
ACCOUNT, AVG_PX, CL_ORD_ID, CUM_QTY, EXEC_ID, EXEC_INST, LAST_MKT, LAST_PX, LAST_QTY = 1, 6, 11, 14, 17, 18, 30, 31, 32
MSG_SEQ_NUM, MSG_TYPE, ORDER_ID, ORDER_QTY, ORD_STATUS, ORD_TYPE, ORIG_CL_ORD_ID = 34, 35, 37, 38, 39, 40, 41
PRICE, SIDE, SYMBOL, TEXT, TIME_IN_FORCE, TRANSACT_TIME = 44, 54, 55, 58, 59, 60
CXL_REJ_REASON, ORD_REJ_REASON, MIN_QTY, EXEC_TYPE, LEAVES_QTY = 102, 103, 110, 150, 151
REF_MSG_TYPE, BUSINESS_REJECT_REF_ID, BUSINESS_REJECT_REASON, REF_SEQ_NUM, CXL_REJ_RESPONSE_TO = 372, 379, 380, 45, 434

BUSINESS_REJECT_UNSUPPORTED_MESSAGE_TYPE = 3


def text_of(message: fix.FieldMap, tag: int) -> str | None:
    return message.getField(tag) if message.isSetField(tag) else None


def _number(message: fix.FieldMap, tag: int) -> float | None:
    if not message.isSetField(tag):
        return None
    try:
        value = float(message.getField(tag))
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def msg_type(message: fix.Message) -> str:
    return message.getHeader().getField(MSG_TYPE)


def new_order_from_fix(message: fix.Message) -> NewOrder:
    return NewOrder(
        cl_ord_id=text_of(message, CL_ORD_ID) or "",
        side=text_of(message, SIDE) or "",
        symbol=text_of(message, SYMBOL),
        quantity=_number(message, ORDER_QTY),
        ord_type=text_of(message, ORD_TYPE),
        exec_inst=text_of(message, EXEC_INST),
        time_in_force=text_of(message, TIME_IN_FORCE),
        min_qty=_number(message, MIN_QTY),
        price=_number(message, PRICE),
    )


def cancel_request_from_fix(message: fix.Message) -> CancelRequest:
    return CancelRequest(cl_ord_id=text_of(message, CL_ORD_ID) or "",
                         orig_cl_ord_id=text_of(message, ORIG_CL_ORD_ID) or "",
                         side=text_of(message, SIDE) or "", symbol=text_of(message, SYMBOL))


def status_request_from_fix(message: fix.Message) -> StatusRequest:
    return StatusRequest(cl_ord_id=text_of(message, CL_ORD_ID) or "", side=text_of(message, SIDE) or "",
                         symbol=text_of(message, SYMBOL))


def _new(msg_type_value: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(MSG_TYPE, msg_type_value)
    return message


def _qty(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _px(value: float) -> str:
    return repr(float(value)) if value else "0"


def execution_report_to_fix(report: ExecReport) -> fix.Message:
    message = _new("8")
    message.setField(ORDER_ID, report.order_id)
    message.setField(CL_ORD_ID, report.cl_ord_id)
    if report.orig_cl_ord_id is not None:
        message.setField(ORIG_CL_ORD_ID, report.orig_cl_ord_id)
    message.setField(EXEC_ID, report.exec_id)
    message.setField(EXEC_TYPE, report.exec_type)
    message.setField(ORD_STATUS, report.ord_status)
    message.setField(SYMBOL, report.symbol)
    message.setField(SIDE, report.side)
    message.setField(ORDER_QTY, _qty(report.order_qty))
    message.setField(ORD_TYPE, "P")
    message.setField(EXEC_INST, "M")
    if report.time_in_force is not None:
        message.setField(TIME_IN_FORCE, report.time_in_force)
    if report.min_qty is not None:
        message.setField(MIN_QTY, _qty(report.min_qty))
    if report.price is not None:
        message.setField(PRICE, _px(report.price))
    if report.exec_type == "F":
        message.setField(LAST_QTY, _qty(report.last_qty))
        message.setField(LAST_PX, _px(report.last_px))
        message.setField(LAST_MKT, report.last_mkt)
    message.setField(LEAVES_QTY, _qty(report.leaves_qty))
    message.setField(CUM_QTY, _qty(report.cum_qty))
    message.setField(AVG_PX, _px(report.avg_px))
    if report.ord_rej_reason is not None and report.exec_type == "8":
        message.setField(ORD_REJ_REASON, str(report.ord_rej_reason))
    if report.text is not None:
        message.setField(TEXT, report.text)
    message.setField(fix.TransactTime())
    return message


def cancel_reject_to_fix(reject: CancelReject) -> fix.Message:
    message = _new("9")
    message.setField(ORDER_ID, reject.order_id)
    message.setField(CL_ORD_ID, reject.cl_ord_id)
    message.setField(ORIG_CL_ORD_ID, reject.orig_cl_ord_id)
    message.setField(ORD_STATUS, reject.ord_status)
    message.setField(CXL_REJ_RESPONSE_TO, "1")  # a reject of an OrderCancelRequest
    message.setField(CXL_REJ_REASON, str(reject.reason))
    message.setField(TEXT, reject.text)
    return message


def business_reject_to_fix(ref_seq_num: str | None, ref_msg_type: str, reason: int, text: str) -> fix.Message:
    message = _new("j")
    if ref_seq_num is not None:
        message.setField(REF_SEQ_NUM, ref_seq_num)
    message.setField(REF_MSG_TYPE, ref_msg_type)
    message.setField(BUSINESS_REJECT_REASON, str(reason))
    message.setField(TEXT, text)
    return message
