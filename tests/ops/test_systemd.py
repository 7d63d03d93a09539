"""The systemd units are valid (systemd-analyze verify) and carry the agreed hardening."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ("csms.service", "edge.service")
ALL_UNITS = (*UNITS, "evsite-backup.service", "evsite-backup.timer")
INSTALL_BIN = "/opt/evsite/venv/bin/"

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def _directives(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (ROOT / "systemd" / unit).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key, []).append(value)
    return found


def _copy_for_verify(tmp_path: Path) -> list[Path]:
    """Copies whose ExecStart points at a real executable (the project's own scripts)."""
    bindir = Path(sys.executable).parent
    copies = []
    for unit in ALL_UNITS:
        text = (ROOT / "systemd" / unit).read_text()
        text = text.replace(INSTALL_BIN, f"{bindir}/")
        copy = tmp_path / unit
        copy.write_text(text)
        copies.append(copy)
    return copies


@needs_systemd_analyze
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    copies = _copy_for_verify(tmp_path)
    proc = subprocess.run(
        ["systemd-analyze", "verify", *map(str, copies)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on unknown keys and bad values, only warning on stderr:
    # any line about our files is a failure.
    ours = [
        line
        for line in proc.stderr.splitlines()
        if str(tmp_path) in line or any(line.startswith(f"{u}:") for u in ALL_UNITS)
    ]
    assert proc.returncode == 0, proc.stderr
    assert ours == [], "\n".join(ours)


@needs_systemd_analyze
def test_verify_catches_a_typo(tmp_path: Path) -> None:
    """The check above can fail: a misspelt directive is reported."""
    copy = _copy_for_verify(tmp_path)[0]
    copy.write_text(copy.read_text().replace("NoNewPrivileges=", "NoNewPrivilege="))
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert "NoNewPrivilege" in proc.stderr


@needs_systemd_analyze
@pytest.mark.parametrize("unit", UNITS)
def test_security_exposure_is_low(tmp_path: Path, unit: str) -> None:
    copies = {c.name: c for c in _copy_for_verify(tmp_path)}
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(copies[unit])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0 and "--offline" in proc.stderr:
        pytest.skip("this systemd-analyze has no offline security mode")
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.0, proc.stdout


@pytest.mark.parametrize("unit", UNITS)
def test_unit_contract(unit: str) -> None:
    d = _directives(unit)
    assert d["Type"] == ["notify"]
    assert d["Restart"] == ["on-failure"]
    assert d["User"] == ["evsite"]
    assert d["KillSignal"] == ["SIGTERM"]
    assert d["WatchdogSec"] and d["TimeoutStopSec"]
    assert d["StateDirectory"] and d["ConfigurationDirectory"] == ["evsite"]
    assert any(v.startswith("-/etc/evsite/") for v in d["EnvironmentFile"])
    for key in (
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectControlGroups",
        "RestrictSUIDSGID",
    ):
        assert d[key] == ["yes"], key
    assert d["ProtectSystem"] == ["strict"]
    assert "@system-service" in d["SystemCallFilter"]
    exec_start = d["ExecStart"][0]
    assert exec_start.startswith(INSTALL_BIN)


def test_sysusers_creates_the_service_user() -> None:
    lines = [
        line.split()
        for line in (ROOT / "systemd" / "evsite.sysusers").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0][:2] == ["u", "evsite"]


def test_env_examples_override_real_keys() -> None:
    from csms.config import CsmsSettings
    from edge.config import EdgeConfig

    for name, prefix, model in (
        ("csms.env.example", "CSMS_", CsmsSettings),
        ("edge.env.example", "EDGE_", EdgeConfig),
    ):
        seen = 0
        for line in (ROOT / "systemd" / name).read_text().splitlines():
            line = line.lstrip("#").strip()
            var = line.split("=", 1)[0]
            if "=" not in line or not var.isupper() or " " in var:
                continue
            assert var.startswith(prefix), line
            section, _, key = var.removeprefix(prefix).lower().partition("__")
            assert section in model.model_fields, var
            assert key in model.model_fields[section].annotation.model_fields, var  # type: ignore[union-attr]
            seen += 1
        assert seen >= 3, name


def test_backup_unit_command_makes_a_consistent_copy(tmp_path: Path) -> None:
    """Run the backup unit's ExecStart (paths moved to tmp) against a live SQLite database."""
    import shlex
    import sqlite3

    exec_start = _directives("evsite-backup.service")["ExecStart"][0]
    argv = shlex.split(exec_start)
    assert argv[0] == f"{INSTALL_BIN}python"
    code = (
        argv[2]
        .replace("/var/lib/evsite-csms", str(tmp_path / "state"))
        .replace("/var/lib/evsite-backups", str(tmp_path / "backups"))
    )
    (tmp_path / "state").mkdir()
    (tmp_path / "backups").mkdir()
    live = sqlite3.connect(tmp_path / "state" / "csms.db")
    live.execute("pragma journal_mode=wal")
    live.execute("create table meter_values (v)")
    live.executemany("insert into meter_values values (?)", [(i,) for i in range(1000)])
    live.commit()  # the service keeps its connection open, as the CSMS does
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    live.close()
    (backup,) = (tmp_path / "backups").glob("csms-*.db")
    with sqlite3.connect(backup) as conn:
        assert conn.execute("select count(*) from meter_values").fetchone() == (1000,)
