"""From decided limits to commands: deadband, minimum period, refresh before validTo.

:class:`Dispatcher` is the bookkeeping (pure, clock passed in); the per-station
sender tasks in :mod:`edge.daemon.controller` ask it what is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Target:
    limit_kw: float
    reason: str
    rule: str
    force: bool = False  # a decrease the site limit needs: ignores the deadband


@dataclass
class Sent:
    limit_kw: float
    at: datetime
    valid_to: datetime | None
    ok: bool = True


class Dispatcher:
    def __init__(self, deadband_kw: float, min_period_s: float, refresh_after_s: float):
        self.deadband_kw = deadband_kw
        self.min_period = timedelta(seconds=min_period_s)
        self.refresh_after = timedelta(seconds=refresh_after_s)
        self.targets: dict[str, Target] = {}
        self.sent: dict[str, Sent] = {}

    def set_target(self, key: str, target: Target) -> None:
        self.targets[key] = target

    def changed(self, key: str) -> bool:
        """Whether the target differs from what was sent by more than the deadband."""
        t, s = self.targets.get(key), self.sent.get(key)
        if t is None:
            return False
        if s is None:
            return True
        if (t.limit_kw == 0) != (s.limit_kw == 0):
            return True  # starting or stopping always counts
        if t.force and t.limit_kw < s.limit_kw:
            return True
        return abs(t.limit_kw - s.limit_kw) > self.deadband_kw

    def effective_kw(self, key: str) -> float:
        """What the station holds after this round if the deadband suppresses the change."""
        t, s = self.targets.get(key), self.sent.get(key)
        if t is None:
            return s.limit_kw if s else 0.0
        if s is None or self.changed(key):
            return t.limit_kw
        return s.limit_kw

    def due_at(self, key: str, now: datetime) -> datetime | None:
        """When ``key`` should be sent next: ``now`` or later, or None if nothing to send."""
        if key not in self.targets:
            return None
        s = self.sent.get(key)
        if s is None:
            return now
        refresh = s.ok and now - s.at >= self.refresh_after
        if not (self.changed(key) or refresh):
            return None
        return max(now, s.at + self.min_period)

    def record(
        self, key: str, limit_kw: float, at: datetime, valid_to: datetime | None, ok: bool
    ) -> None:
        self.sent[key] = Sent(limit_kw, at, valid_to, ok)

    def forget(self, keys: list[str]) -> None:
        """The station lost its profiles (reboot, came online): send everything again."""
        for key in keys:
            self.sent.pop(key, None)
