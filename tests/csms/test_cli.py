"""The ``csms`` console script: registry management and a graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import structlog
import websockets

from csms.cli import main
from tests.plugins.infra import free_port


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    # main() configures structlog onto the (captured) stderr of this test; undo it so
    # later tests do not log to a closed file
    yield
    structlog.reset_defaults()


def test_stations_and_idtags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'reg.db'}"
    assert main(["stations", "add", "--db", db, "CP-1", "--password", "S3cret-for-CP-1-only"]) == 0
    assert main(["stations", "add", "--db", db, "CP-2", "--status", "Pending"]) == 0
    capsys.readouterr()
    assert main(["stations", "list", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("CP-1\tAccepted\tpassword") and out[1].startswith(
        "CP-2\tPending\tno-password"
    )
    assert "S3cret" not in "".join(out)
    assert main(["stations", "remove", "--db", db, "CP-2"]) == 0
    assert main(["stations", "remove", "--db", db, "CP-2"]) == 1
    assert main(["idtags", "add", "--db", db, "TAG-1", "--expiry", "2030-01-01T00:00:00Z"]) == 0
    assert main(["idtags", "add", "--db", db, "TAG-2", "--status", "Blocked"]) == 0
    capsys.readouterr()
    assert main(["idtags", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "TAG-1\tAccepted\texpiry 2030-01-01T00:00:00+00:00" in out and "TAG-2\tBlocked" in out
    assert main(["idtags", "remove", "--db", db, "TAG-1"]) == 0


def test_bad_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "csms.toml"
    cfg.write_text("[server]\nprot = 9000\n")
    assert main(["stations", "list", "--config", str(cfg)]) == 2
    assert "server.prot: unknown key" in capsys.readouterr().err
    cfg.write_text('[security]\nallow_unknown_stations = "maybe"\n')
    assert main(["stations", "list", "--config", str(cfg)]) == 2
    assert "security.allow_unknown_stations" in capsys.readouterr().err


@pytest.mark.slow
async def test_serve_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "csms.toml"
    cfg.write_text(
        '[server]\nhost = "127.0.0.1"\nmetrics_port = 0\n'
        '[http]\nport = 0\n[logging]\nformat = "json"\n'
    )
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(10)
    env = {
        **os.environ,
        "CSMS_SECURITY__ACCEPT_ALL_ID_TAGS": "true",
        "NOTIFY_SOCKET": str(notify_path),
    }
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [
            sys.executable,
            "-m",
            "csms.cli",
            "serve",
            "--config",
            str(cfg),
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 'serve.db'}",
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{port}/ocpp/CP-sig", subprotocols=["ocpp1.6"]
                )  # type: ignore[list-item]
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, (
                    "csms serve did not start"
                )
                await asyncio.sleep(0.1)
        ready = (await asyncio.to_thread(notify.recv, 1024)).decode()
        assert ready.startswith("READY=1")
        await ws.send(
            json.dumps(
                [2, "1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
            )
        )
        assert json.loads(await ws.recv())[2]["status"] == "Accepted"
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert ws.close_code == 1001
        assert await asyncio.to_thread(proc.wait, 10) == 0
        assert (await asyncio.to_thread(notify.recv, 1024)).decode() == "STOPPING=1"
    finally:
        notify.close()
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    assert '"event": "stopping: finishing in-flight messages"' in err or "stopping" in err


def test_station_passwords_from_stdin_or_generated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from csms import security

    db = f"sqlite:///{tmp_path / 'pw.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin-0123456789\n"))
    assert main(["stations", "add", "--db", db, "CP-IN", "--password-stdin"]) == 0
    assert main(["stations", "add", "--db", db, "CP-GEN", "--generate-password"]) == 0
    out = capsys.readouterr().out
    generated = out.rsplit(": ", 1)[1].strip()
    assert len(generated) == 32
    assert main(["stations", "add", "--db", db, "CP-SHORT", "--password", "short"]) == 2
    assert "16-40 characters" in capsys.readouterr().err

    import sqlite3

    with sqlite3.connect(tmp_path / "pw.db") as conn:
        rows = dict(conn.execute("SELECT station_id, password_hash FROM stations").fetchall())
    assert set(rows) == {"CP-IN", "CP-GEN"}
    assert security.verify_password("from-stdin-0123456789", rows["CP-IN"])
    assert security.verify_password(generated, rows["CP-GEN"])


def test_start_up_errors_do_not_echo_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://evsite:pg-S3cret-pw@127.0.0.1:1/nowhere"
    assert main(["serve", "--db", url, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "database migration failed" in err and "pg-S3cret-pw" not in err and "***" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('[mqtt]\nenabled = true\npassword = 12345678901234\nport = "x"\n')
    assert main(["serve", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "mqtt.password" in err and "12345678901234" not in err and "mqtt.port" in err
