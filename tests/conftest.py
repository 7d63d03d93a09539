"""Shared test fixtures: a private mosquitto per test, databases (SQLite and PostgreSQL).

Component-specific fixtures live in tests/plugins/*.py (loaded below) so that
every test directory can use them.
"""

from __future__ import annotations

import os
import pkgutil

import tests.plugins

# No fixed ports: every CSMS a test starts (in-process or `csms serve` as a child, which
# inherits this) binds its driver/operator HTTP service to a free port unless the test
# says otherwise. The production default is 8080.
os.environ.setdefault("CSMS_HTTP__PORT", "0")

pytest_plugins = [f"tests.plugins.{m.name}" for m in pkgutil.iter_modules(tests.plugins.__path__)]
