"""The one-command demo: broker, CSMS, edge and simulators for a simulated day, then a report.

Entry point: ``evsim demo`` (``./dev demo``) -> :func:`simulators.demo.cli.main`.
"""
