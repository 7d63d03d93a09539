"""Shared test fixtures: a private mosquitto per test, databases (SQLite and PostgreSQL).

Component-specific fixtures live in tests/plugins/*.py (loaded below) so that
every test directory can use them.
"""

from __future__ import annotations

import pkgutil

import tests.plugins

pytest_plugins = [f"tests.plugins.{m.name}" for m in pkgutil.iter_modules(tests.plugins.__path__)]
