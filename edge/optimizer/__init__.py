"""Dispatch: the MILP optimizer and the baseline strategies behind edge.planning.Planner."""
