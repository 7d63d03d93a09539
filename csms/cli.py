"""The ``csms`` console script: serve, manage the station registry and id tags, and list
the driver requests (every revision)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from csms import config, security
from csms.app import CsmsApp
from csms.config import CsmsSettings
from csms.db.database import Database
from csms.db.models import IdTag, Station
from evcommon import systemd
from evcommon.errors import EvsiteError
from evcommon.logs import configure_logging, get_logger

REGISTRY_STATUSES = ("Accepted", "Pending", "Rejected")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file (see docs/csms.md)")
    p.add_argument("--db", help="database URL, e.g. sqlite:///var/lib/csms/csms.db")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csms", description="OCPP 1.6J/2.0.1 central system")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the central system")
    _common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--clock", help="'real' or 'sim:start=...,speed=...' (EVSITE_CLOCK)")

    stations = sub.add_parser("stations", help="the station registry").add_subparsers(
        dest="action", required=True
    )
    add = stations.add_parser("add", help="register a station (or update it)")
    _common(add)
    add.add_argument("station_id")
    pw = add.add_mutually_exclusive_group()
    pw.add_argument(
        "--password",
        help="HTTP basic auth password (security profile 1); visible in the process list: "
        "prefer --password-stdin or --generate-password",
    )
    pw.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    pw.add_argument(
        "--generate-password",
        action="store_true",
        help="generate a 32-character password and print it once",
    )
    add.add_argument("--status", choices=REGISTRY_STATUSES, default="Accepted")
    for name in ("list", "remove"):
        p = stations.add_parser(name)
        _common(p)
        if name == "remove":
            p.add_argument("station_id")

    tags = sub.add_parser("idtags", help="the local list of id tags").add_subparsers(
        dest="action", required=True
    )
    tadd = tags.add_parser("add", help="add an id tag (or update it)")
    _common(tadd)
    tadd.add_argument("id_tag")
    tadd.add_argument("--status", choices=("Accepted", "Blocked", "Expired"), default="Accepted")
    tadd.add_argument("--expiry", help="ISO 8601 expiry, e.g. 2027-01-01T00:00:00Z")
    tadd.add_argument("--parent", help="parent id tag (group)")
    for name in ("list", "remove"):
        p = tags.add_parser(name)
        _common(p)
        if name == "remove":
            p.add_argument("id_tag")

    reqs = sub.add_parser("requests", help="driver requests").add_subparsers(
        dest="action", required=True
    )
    rlist = reqs.add_parser("list", help="every revision of every request (audit)")
    _common(rlist)
    rlist.add_argument("--station", help="only this station")
    return parser


async def serve(settings: CsmsSettings) -> None:
    log = get_logger("csms")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with CsmsApp(settings) as app:
        systemd.notify("READY=1", f"STATUS=listening on port {app.port}")
        async with asyncio.TaskGroup() as tg:
            watchdog = tg.create_task(systemd.watchdog_loop(), name="systemd-watchdog")
            await stop.wait()
            log.info("stopping: finishing in-flight messages")
            systemd.notify("STOPPING=1")
            watchdog.cancel()


async def _registry(args: argparse.Namespace, settings: CsmsSettings) -> int:
    async with Database(settings.database.url) as db:
        await db.migrate()
        work = {"stations": _stations, "idtags": _idtags, "requests": _requests}[args.command]
        return await db.transaction(lambda s: work(s, args))


def _stations(s: Session, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.action == "add":
        if (problem := security.station_id_problem(args.station_id)) is not None:
            raise EvsiteError(f"{args.station_id!r}: {problem}")
        row = s.get(Station, args.station_id)
        if row is None:
            row = Station(station_id=args.station_id, created_at=now)
            s.add(row)
        row.registry_status = args.status
        password = _password(args)
        if password is not None:
            row.password_hash = security.hash_password(password)
        print(f"station {args.station_id}: {args.status}")
        if args.generate_password:
            print(f"password (shown once, only its hash is stored): {password}")
    elif args.action == "remove":
        result = s.execute(delete(Station).where(Station.station_id == args.station_id))
        if not getattr(result, "rowcount", 0):
            print(f"station {args.station_id!r} is not registered", file=sys.stderr)
            return 1
        print(f"station {args.station_id} removed")
    else:
        rows = s.execute(select(Station).order_by(Station.station_id)).scalars()
        for r in rows:
            auth = "password" if r.password_hash else "no-password"
            seen = r.last_seen_at.isoformat() if r.last_seen_at else "never"
            print(
                f"{r.station_id}\t{r.registry_status or 'unregistered'}\t{auth}\t"
                f"{r.ocpp_version or '-'}\t{r.boot_status or '-'}\tlast boot {seen}"
            )
    return 0


def _password(args: argparse.Namespace) -> str | None:
    if args.generate_password:
        return security.generate_password()
    password: str | None = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if password is not None and (problem := security.password_problem(password)) is not None:
        raise EvsiteError(f"password: {problem}")
    return password


def _idtags(s: Session, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    if args.action == "add":
        row = s.get(IdTag, args.id_tag)
        if row is None:
            row = IdTag(id_tag=args.id_tag, created_at=now)
            s.add(row)
        row.status = args.status
        row.parent_id_tag = args.parent
        row.expiry = _parse_time(args.expiry) if args.expiry else None
        print(f"id tag {args.id_tag}: {args.status}")
    elif args.action == "remove":
        result = s.execute(delete(IdTag).where(IdTag.id_tag == args.id_tag))
        if not getattr(result, "rowcount", 0):
            print(f"id tag {args.id_tag!r} is not in the list", file=sys.stderr)
            return 1
        print(f"id tag {args.id_tag} removed")
    else:
        for r in s.execute(select(IdTag).order_by(IdTag.id_tag)).scalars():
            expiry = r.expiry.isoformat() if r.expiry else "-"
            print(f"{r.id_tag}\t{r.status}\texpiry {expiry}\tparent {r.parent_id_tag or '-'}")
    return 0


def _requests(s: Session, args: argparse.Namespace) -> int:
    from csms.requests.store import audit

    def text(value: object) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        return "-" if value is None else str(value)

    columns = ("revision", "submitted_at", "departure_at", "energy_kwh", "distance_miles")
    print("\t".join(("station", "connector", "transaction", *columns, "opt_out", "withdrawn")))
    for session, r in audit(s, args.station):
        values = [session.station_id, session.connector_id, session.tx_key]
        values += [getattr(r, c) for c in columns] + [r.opt_out, r.withdrawn]
        print("\t".join(text(v) for v in values))
    return 0


def _parse_time(text: str) -> datetime:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EvsiteError(f"--expiry {text!r}: not an ISO 8601 time") from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config.load(
            args.config,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            db=args.db,
            clock=getattr(args, "clock", None),
        )
        configure_logging(settings.logging.level, settings.logging.format)
        if args.command == "serve":
            asyncio.run(serve(settings))
            return 0
        return asyncio.run(_registry(args, settings))
    except EvsiteError as exc:
        print(f"csms: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
