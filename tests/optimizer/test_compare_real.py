"""The network-free replay gives the same result as the real components (issue 6).

Two simulated hours of the reference garage (21:00-23:00 on the demo's Monday, when the
fleet-1 staged window opens) through mosquitto, ``csms serve``, ``edge run`` (strategy
``staged``) and ``evsim run`` at 480x, then the same sessions through the replay.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.optimizer.compare_real import Tolerance, compare, format_comparison, run_real

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

SPEED = 480.0


def test_replay_agrees_with_the_real_components(tmp_path: Path) -> None:
    start = datetime(2026, 7, 6, 21, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    record = run_real(start, 2.0, SPEED, tmp_path / "out", "staged")
    c = compare(record, start, 2.0, "staged", Tolerance.for_speed(SPEED))
    text = format_comparison(c, "staged", "2 h from 21:00")
    print(text)
    # the window did something: fleet-1 charged once its window opened, fleet-2 waited
    delivered = c.real.delivered_kwh
    assert any(k.startswith("L2-F1-") and kwh > 1.0 for k, kwh in delivered.items()), text
    assert all(kwh == 0.0 for k, kwh in delivered.items() if k.startswith("L2-F2-")), text + str(
        {k: v for k, v in delivered.items() if k.startswith("L2-F2-")}
    )
    assert c.sessions >= 5, text
    assert c.passed(), text
    assert text.endswith("PASS")
