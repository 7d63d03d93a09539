"""Optimizer benchmark: ``./dev bench optimizer [--days N] [--scenario S] [--speed]``.

Replays a scenario through every strategy (bill, peaks, energy, shortfalls, solver
times, PNG of the peak day) and, with --speed, times the MILP at 200 and 500
vehicles x 96 intervals. See docs/optimizer.md.
"""

from __future__ import annotations

import sys

from edge.optimizer.bench import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
