"""The one-command demo end to end: a short day, and Ctrl-C stopping everything.

Runs ``evsim demo`` as a user would (a subprocess), with mosquitto, the real
CSMS, edge controller and simulators.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EVSIM = str(Path(sys.executable).parent / "evsim")
pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_demo_short_day_reports_every_part(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [EVSIM, "demo", "--hours", "1", "--speed", "360", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-4000:]
    assert "MQTT broker: mosquitto" in text  # said plainly which broker
    assert "sim  site" in text and "charging" in text  # progress lines
    for part in (
        "Bill for this load",
        "controlled",
        "uncontrolled",
        "Peak demand by period",
        "Energy: delivered",
        "Baseline:",
    ):
        assert part in text, part
    plot = out / "site-load.png"
    assert f"Plot: {plot}" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text())
    assert report["sessions"] > 0
    assert 0 < report["delivered_kwh"] <= report["requested_kwh"] + 1e-6
    assert report["controlled"]["total"] > 0 and report["uncontrolled"]["total"] > 0
    assert report["controlled"]["peaks_kw"]
    # every child is gone
    pids = json.loads((out / "processes.json").read_text())
    assert set(pids) == {"csms", "edge", "evsim"}
    assert not [name for name, pid in pids.items() if alive(pid)]


def test_demo_ctrl_c_stops_every_child(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [EVSIM, "demo", "--hours", "24", "--speed", "60", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "sim  site" in line or not line:  # progress is running
                break
        assert any("sim  site" in line for line in lines), "".join(lines)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, "".join(lines) + rest
    assert "stopped; no report" in rest
    assert "did not stop in time" not in rest, rest
    pids = json.loads((out / "processes.json").read_text())
    broker = json.loads((out / "broker.json").read_text())
    pids["broker"] = broker["pid"]
    assert not [name for name, pid in pids.items() if alive(pid)]
