"""Fault injection state of one venue: which report to drop, delay or send twice, when to disconnect.

Report faults count the ExecutionReports whose ExecType they target and hit every ``every``-th one,
so a test knows exactly which report is affected. ``disconnect_after_orders`` and the timed
disconnect fire once per arming (a new FaultState, i.e. a fault change, arms them again);
``disconnect_every_orders`` fires after every N-th order for as long as it is set. The state is
replaced as a whole when faults change, so the QuickFIX thread never sees half an update.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim_venues.host_config import FaultConfig, ReportFault


@dataclass(frozen=True, slots=True)
class ReportPlan:
    send: bool = True
    copies: int = 1  # 2 when duplicated
    extra_delay: float = 0.0  # seconds added to the venue latency


_SEND = ReportPlan()


class _Counter:
    __slots__ = ("fault", "seen")

    def __init__(self, fault: ReportFault) -> None:
        self.fault = fault
        self.seen = 0

    def hit(self, exec_type: str) -> bool:
        if not self.fault.every or exec_type not in self.fault.exec_types:
            return False
        self.seen += 1
        return self.seen % self.fault.every == 0


class FaultState:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._drop = _Counter(config.drop_reports)
        self._delay = _Counter(config.delay_reports)
        self._duplicate = _Counter(config.duplicate_reports)
        self._active = any(f.every for f in (config.drop_reports, config.delay_reports, config.duplicate_reports))
        self.orders_until_disconnect = config.disconnect_after_orders
        self._every_orders = config.disconnect_every_orders
        self._orders_since_disconnect = 0
        self.seconds_disconnect_armed = config.disconnect_after_seconds is not None

    @property
    def refuse_logon(self) -> bool:
        return self.config.refuse_logon

    def plan(self, exec_type: str) -> ReportPlan:
        if not self._active:
            return _SEND
        # Every counter sees every report, so the schedule of one fault does not depend on the others.
        drop = self._drop.hit(exec_type)
        delay = self._delay.hit(exec_type)
        duplicate = self._duplicate.hit(exec_type)
        if drop:
            return ReportPlan(send=False)
        return ReportPlan(copies=2 if duplicate else 1,
                          extra_delay=self.config.delay_reports.seconds if delay else 0.0)

    def order_handled(self) -> bool:
        """Count one order; True when the connection must now be dropped (once for
        ``disconnect_after_orders``, every N-th order for ``disconnect_every_orders``)."""
        once = False
        if self.orders_until_disconnect is not None:
            self.orders_until_disconnect -= 1
            if self.orders_until_disconnect <= 0:
                self.orders_until_disconnect = None
                once = True
        repeat = False
        if self._every_orders is not None:
            self._orders_since_disconnect += 1
            if self._orders_since_disconnect >= self._every_orders:
                self._orders_since_disconnect = 0
                repeat = True
        return once or repeat

    def take_timed_disconnect(self) -> float | None:
        """Seconds after logon to disconnect, once per arming."""
        if not self.seconds_disconnect_armed:
            return None
        self.seconds_disconnect_armed = False
        return self.config.disconnect_after_seconds
