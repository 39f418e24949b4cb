"""python -m bench: build the dataset, serve the app, run the scenarios, report against SPEC.md's targets."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
import traceback

from asset_tracker.extensions import db

from . import database, dataset, profile, report, scenarios
from .server import Server

HTTP = ("lookup", "list", "scan", "sweep", "import", "batch", "verify", "export")
ALL = HTTP + ("labels",)


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--size", type=int, action="append",
                   help="devices in the dataset (repeatable); default 10000 and 100000")
    p.add_argument("--events-per-device", type=float, default=10.0,
                   help="custody events per device (default 10: 1,000,000 events at 100,000 devices)")
    p.add_argument("--only", default="", help=f"comma-separated scenarios among: {', '.join(ALL)} "
                                              "(P, the bare endpoint, is always measured)")
    p.add_argument("--duration", type=float, default=6.0, help="seconds per load scenario (default 6)")
    p.add_argument("--database", default=os.environ.get("DATABASE_URL"),
                   help="a PostgreSQL URL to benchmark PostgreSQL (default: $DATABASE_URL, else SQLite)")
    p.add_argument("--no-gunicorn", action="store_true", help="PostgreSQL: skip the gunicorn runs")
    p.add_argument("--keep", action="store_true", help="keep the databases after the run")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    p.add_argument("--profile", action="store_true",
                   help="at the largest size, sample the server with py-spy during scans, look-ups and the import")
    p.add_argument("--merge", action="store_true",
                   help="add this run's sizes to the last result of the same database instead of replacing it "
                        "(e.g. --size 1000000 --only sweep --merge)")
    p.add_argument("--seed", type=int, default=2026)
    return p.parse_args(argv)


def say(msg: str) -> None:
    print(msg, flush=True)


def guarded(name: str, fn, *args) -> dict:
    t0 = time.perf_counter()
    try:
        out = fn(*args)
    except Exception as exc:  # one broken scenario must not lose the others' figures
        traceback.print_exc()
        out = {"status": "error", "why": f"{exc.__class__.__name__}: {exc}"}
    status = out.get("status", "done") if isinstance(out, dict) else "done"
    say(f"    {name}: {status} ({time.perf_counter() - t0:.1f} s)")
    return out


def profiles(ctx, srv, only: set) -> dict:
    """py-spy samples of the server while the slow paths run again (new devices each time)."""
    found = {}
    jobs = []
    if "scan" in only:
        jobs += [("scan, one client in sequence", lambda: scenarios.scan_burst(ctx, 1, 300)),
                 ("scan, 8 clients", lambda: scenarios.scan_burst(ctx, 8, 1000))]
    if "lookup" in only:
        jobs.append(("look-up by tag, 8 clients", lambda: scenarios.lookup_burst(ctx, 8)))
    if "import" in only:
        jobs.append(("CSV import of 10,000 rows", lambda: scenarios.csv_import(ctx)))
    for name, job in jobs:
        t0 = time.perf_counter()
        text, stats = profile.record(srv.proc.pid, ctx.duration + 2, job)
        found[name] = text
        say(f"    profile of {name}: done ({time.perf_counter() - t0:.1f} s)")
    return found


def run_gunicorn(ctx, target, kind: str, size: int, only: set) -> dict:
    log = os.path.join(database.RESULTS, f"server-{kind}-{size}-gunicorn.log")
    with Server(target.url, "gunicorn", log) as srv:
        ctx.server = srv
        g = {"served_by": srv.description}
        g["bare"] = guarded("gunicorn: P", scenarios.bare, ctx)
        if "lookup" in only:
            g["lookup"] = guarded("gunicorn: look-up", scenarios.lookup, ctx)
        if "scan" in only:
            g["scan"] = guarded("gunicorn: scan", scenarios.scan, ctx)
    return g


def run_size(size: int, args, kind: str, only: set, labels_done: bool, largest: int) -> dict:
    say(f"== {size:,} devices ({kind})")
    target = database.fresh(args.database, str(size))
    app = database.make_app(target.url)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    database.migrate(app)
    built = dataset.build(app, size, int(size * args.events_per_device), seed=args.seed, log=say)
    out = {"dataset": built.as_dict(), "verify_in_process": scenarios.verify_in_process(built)}
    ctx = scenarios.Context(app, target, built.tokens, size, args.duration)
    try:
        if "labels" in only and not labels_done:
            out["labels"] = guarded("labels", scenarios.labels, ctx)
        if "sweep" in only:
            out["sweep"] = guarded("sweep (in process)", scenarios.sweep, ctx)
        log = os.path.join(database.RESULTS, f"server-{kind}-{size}-waitress.log")
        if only & set(HTTP):
            with Server(target.url, "waitress", log) as srv:
                ctx.server = srv
                out["waitress"] = w = {"served_by": srv.description}
                w["bare"] = guarded("P (GET /healthz)", scenarios.bare, ctx)
                if "export" in only:  # first, so the server's peak memory is the export's
                    w["export"] = guarded("export", scenarios.export, ctx)
                if "lookup" in only:
                    w["lookup"] = guarded("look-up", scenarios.lookup, ctx)
                if "list" in only:
                    w["list"] = guarded("list", scenarios.listing, ctx)
                if "scan" in only:
                    w["scan"] = guarded("scan", scenarios.scan, ctx)
                if "sweep" in only:
                    normal = (w.get("scan") or {}).get("concurrent")
                    w["scan_during_sweep"] = guarded("scan during sweeps", scenarios.scan_during_sweep, ctx, normal)
                if "verify" in only:
                    w["verify"] = guarded("verify (HTTP)", scenarios.audit_verify_http, ctx)
                if "import" in only:
                    w["import"] = guarded("CSV import", scenarios.csv_import, ctx)
                if "batch" in only:
                    full = (w.get("import") or {}).get("batch_id")
                    w["batch"] = guarded("batch at its maximum size", scenarios.batch_at_max, ctx, full)
                if args.profile and size == largest:
                    out["profiles"] = profiles(ctx, srv, only)
            if kind == "postgresql" and not args.no_gunicorn:
                out["gunicorn"] = guarded("gunicorn", run_gunicorn, ctx, target, kind, size, only)
    finally:
        with app.app_context():
            db.engine.dispose()
        if not args.keep:
            target.drop()
    return out


def main(argv=None) -> int:
    args = parse(argv)
    kind = database.kind_of(args.database)
    sizes = args.size or [10000, 100000]
    only = {s.strip() for s in args.only.split(",") if s.strip()} or set(ALL)
    unknown = only - set(ALL)
    if unknown:
        say(f"unknown scenario(s): {', '.join(sorted(unknown))}; choose among {', '.join(ALL)}")
        return 2
    started = time.time()
    load_before = os.getloadavg()
    result = {"database": kind, "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
              "commit": report.commit(), "machine": report.machine(args.database, kind), "sizes": {}}
    result["command"] = result["command"].strip()
    labels_done = False
    for size in sorted(sizes, reverse=False):
        result["sizes"][str(size)] = run_size(size, args, kind, only, labels_done, max(sizes))
        labels_done = labels_done or "labels" in result["sizes"][str(size)]
    result["served_by"] = "; ".join(filter(None, [
        result["sizes"][str(sizes[-1])].get("waitress", {}).get("served_by"),
        result["sizes"][str(sizes[-1])].get("gunicorn", {}).get("served_by")]))
    if args.merge:
        result = report.merge(result)
    result["targets"] = report.targets(kind, result["sizes"])
    result["profiles"] = next((s["profiles"] for s in result["sizes"].values() if s.get("profiles")), {})
    result["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["elapsed_s"] = round(time.time() - started, 1)
    # These machines are shared: the load average says how noisy the run was.
    result["machine"]["load_average"] = {"start": [round(x, 2) for x in load_before],
                                         "end": [round(x, 2) for x in os.getloadavg()]}
    say("")
    say(report.table(result["targets"]))
    say("")
    say(f"results: {report.write_json(result)}")
    if not args.no_docs:
        say(f"report:  {report.write_doc(result)}")
    say(f"elapsed: {result['elapsed_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
