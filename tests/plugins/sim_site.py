"""Site-simulator fixtures other areas may reuse.

``make_scenario(text, name="s.toml", files={...})`` writes a scenario TOML (and any side
files such as a sessions CSV) into the test's tmp dir and returns a loaded
:class:`ScenarioPlan`; ``reference_plan`` is the shipped reference garage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from simulators.scenario.loader import load_scenario
from simulators.scenario.plan import ScenarioPlan

MakeScenario = Callable[..., ScenarioPlan]


@pytest.fixture
def make_scenario(tmp_path: Path) -> MakeScenario:
    def factory(
        text: str, name: str = "s.toml", files: dict[str, str] | None = None
    ) -> ScenarioPlan:
        for fname, content in (files or {}).items():
            (tmp_path / fname).write_text(content)
        path = tmp_path / name
        path.write_text(text)
        return load_scenario(path)

    return factory


@pytest.fixture
def reference_plan() -> ScenarioPlan:
    return load_scenario("reference-garage")
