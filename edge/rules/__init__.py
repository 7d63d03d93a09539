"""The field-proven rules as pure functions: staged windows, DCFC shed, site limit, floor."""

from edge.rules.allocation import Allocation, Want, allocate
from edge.rules.pipeline import ConnectorView, Decision, GroupRules, Outcome, RuleInputs, decide
from edge.rules.shed import ShedParams, ShedState, release_due, update_shed
from edge.rules.windows import WindowState, night_window, resolve_local, window_state

__all__ = [
    "Allocation",
    "ConnectorView",
    "Decision",
    "GroupRules",
    "Outcome",
    "RuleInputs",
    "ShedParams",
    "ShedState",
    "Want",
    "WindowState",
    "allocate",
    "decide",
    "night_window",
    "release_due",
    "resolve_local",
    "update_shed",
    "window_state",
]
