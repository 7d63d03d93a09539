"""Child processes of the demo: started in their own sessions, stopped in reverse order.

Each child gets its own process session so that Ctrl-C in the terminal reaches
only the demo, which then stops the children in a defined order (simulators,
edge, CSMS, broker) with SIGTERM, waiting for each before the next, and SIGKILL
only for one that does not exit in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    logfile: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Children:
    workdir: Path
    env: dict[str, str]
    started: list[Child] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)

    def start(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> Child:
        logfile = self.workdir / f"{name}.log"
        with logfile.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**self.env, **(extra_env or {})},
                cwd=self.workdir,
                start_new_session=True,
            )
        child = Child(name, argv, proc, logfile)
        self.started.append(child)
        self.write_pids()
        return child

    def write_pids(self) -> None:
        """processes.json: name -> pid, for the operator (and the tests) to check."""
        pids = {c.name: c.process.pid for c in self.started}
        (self.workdir / "processes.json").write_text(json.dumps(pids, indent=1) + "\n")

    def failed(self) -> Child | None:
        """A child that exited on its own with an error."""
        for child in self.started:
            code = child.process.poll()
            if code not in (None, 0):
                return child
        return None

    def stop_all(self, timeout_s: float = 15.0) -> dict[str, int | None]:
        """SIGTERM every child (newest first), wait for all, SIGKILL what is left.

        Returns the exit codes; ``killed`` names the children that needed SIGKILL.
        """
        for child in reversed(self.started):
            terminate(child.process)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(c.running() for c in self.started):
            time.sleep(0.05)
        self.killed = [c.name for c in self.started if c.running()]
        return {c.name: stop(c.process, 0.0) for c in reversed(self.started)}


def terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)


def stop(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode
