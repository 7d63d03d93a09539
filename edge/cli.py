"""``edge``: the edge controller's command line.

edge check-config site.toml         validate, print a summary (or the key at fault)
edge run --config site.toml [--clock SPEC]
edge bill ...                       itemised bills (edge.tariff.cli)
edge bench ...                      strategy benchmark (edge.optimizer.bench)
edge site ...                       siting (edge.siting.cli)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Sequence

from evcommon.errors import ConfigError, EvsiteError

DELEGATES = {
    "bill": "edge.tariff.cli",
    "bench": "edge.optimizer.bench",
    "site": "edge.siting.cli",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge", description="EV charging site edge controller")
    sub = p.add_subparsers(dest="cmd", required=True)
    check = sub.add_parser("check-config", help="validate a site config and print a summary")
    check.add_argument("config")
    run = sub.add_parser("run", help="run the controller")
    run.add_argument("--config", required=True)
    run.add_argument("--clock", default=None, help="'real' or 'sim:start=...,speed=...'")
    run.add_argument("--log-level", default=None)
    for name in DELEGATES:
        sub.add_parser(name, help=f"see 'edge {name} --help'", add_help=False)
    return p


def _delegate(name: str, argv: list[str]) -> int:
    module_name = DELEGATES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            print(f"edge {name}: {module_name} is not available in this install", file=sys.stderr)
            return 2
        raise
    return int(module.main(argv) or 0)


def _check(path: str) -> int:
    from edge.config import load_site_config, load_site_tariff, summary
    from edge.planners import get_planner

    try:
        cfg = load_site_config(path)
        get_planner(cfg.optimizer.strategy, cfg.optimizer)
        load_site_tariff(cfg)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    print(summary(cfg))
    print("config OK")
    return 0


def _run(args: argparse.Namespace) -> int:
    from edge.config import load_site_config
    from edge.daemon.app import EdgeApp
    from evcommon.clock import parse_clock
    from evcommon.logs import configure_logging

    try:
        cfg = load_site_config(args.config)
        clock = parse_clock(args.clock)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.log_level or cfg.logging.level, cfg.logging.format)

    async def main() -> None:
        app = EdgeApp(cfg, clock)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, app.stop)
        await app.run()

    try:
        asyncio.run(main())
    except EvsiteError as exc:
        print(f"edge: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in DELEGATES:
        return _delegate(args_list[0], args_list[1:])
    args = _parser().parse_args(args_list)
    if args.cmd == "check-config":
        return _check(args.config)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
