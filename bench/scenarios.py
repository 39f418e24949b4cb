"""The scenarios. Each finds its capability at run time (OpenAPI path or module) and says "not available" otherwise."""
from __future__ import annotations

import csv
import importlib
import io
import json
import os
import random
import subprocess
import sys
import time
import uuid

from sqlalchemy import text

from asset_tracker.extensions import db
from asset_tracker.tags import format_tag

from . import load
from .load import Req

NA = "not available"


def not_available(why: str) -> dict:
    return {"status": NA, "why": why}


class Context:
    """What the scenarios share for one dataset: the app, the tokens, the server and the device pools."""

    def __init__(self, app, target, tokens: dict, devices: int, duration: float, seed: int = 7):
        self.app, self.target, self.tokens, self.devices, self.duration = app, target, tokens, devices, duration
        self.rng = random.Random(seed)
        self.server = None
        self._pools: dict[str, list[str]] = {}
        self._openapi: dict | None = None

    def headers(self, who: str = "technician", json_body: bool = False) -> tuple:
        h = [("Authorization", f"Bearer {self.tokens[who]}")]
        if json_body:
            h.append(("Content-Type", "application/json"))
        return tuple(h)

    def openapi(self) -> dict:
        if self._openapi is None:
            status, body, _ = load.one(self.server.port, Req("GET", "/api/v1/openapi.json"))
            self._openapi = json.loads(body) if status == 200 else {}
        return self._openapi

    def has_path(self, path: str, method: str = "post") -> bool:
        return method in self.openapi().get("paths", {}).get(path, {})

    def pool(self, state: str) -> list[str]:
        """Tags of devices in ``state`` not yet used by a scenario (shuffled once)."""
        if state not in self._pools:
            with self.app.app_context():
                tags = list(db.session.execute(text("SELECT tag FROM devices WHERE state = :s ORDER BY id"),
                                               {"s": state}).scalars())
                db.session.remove()
            self.rng.shuffle(tags)
            self._pools[state] = tags
        return self._pools[state]

    def take(self, state: str, n: int) -> list[str]:
        pool = self.pool(state)
        taken, self._pools[state] = pool[:n], pool[n:]
        return taken

    def random_tags(self, n: int) -> list[str]:
        prefix, width = self.app.config["TAG_PREFIX"], self.app.config["TAG_WIDTH"]
        return [format_tag(prefix, self.rng.randint(1, self.devices), width) for _ in range(n)]


# ---------------------------------------------------------------- HTTP scenarios


def bare(ctx: Context) -> dict:
    """P: GET /healthz (one database round trip), 8 clients, as fast as the server answers."""
    load.run(ctx.server.port, [Req("GET", "/healthz")] * 200, clients=8, duration=1.0)  # warm-up
    stats = load.run(ctx.server.port, [Req("GET", "/healthz")], clients=8, duration=ctx.duration)
    return stats.as_dict()


def lookup(ctx: Context) -> dict:
    """GET /api/v1/devices/<tag> for random tags: one client in sequence (p50) and 8 clients (rate)."""
    h = ctx.headers()
    reqs = [Req("GET", f"/api/v1/devices/{t}", None, h) for t in ctx.random_tags(20000)]
    load.run(ctx.server.port, reqs[:300], clients=4, duration=1.0, cycle=False)
    seq = load.run(ctx.server.port, reqs[300:], clients=1, duration=ctx.duration / 2)
    conc = load.run(ctx.server.port, reqs, clients=8, duration=ctx.duration)
    return {"sequential": seq.as_dict(), "concurrent": conc.as_dict()}


def listing(ctx: Context) -> dict:
    """GET /api/v1/devices with filters (state, type, donor), 50 per page, 8 clients."""
    h = ctx.headers()
    variants = ["state=ready&type=laptop", "state=handed_over&state=returned", "state=received&overdue=true",
                "type=phone&state=ready", "donor=2&state=registered", "q=ThinkPad"]
    reqs = [Req("GET", f"/api/v1/devices?{v}&per_page=50&page={p}", None, h) for p in (1, 2, 3) for v in variants]
    load.run(ctx.server.port, reqs, clients=2, duration=1.0)
    stats = load.run(ctx.server.port, reqs, clients=8, duration=ctx.duration)
    return {"filters": variants, **stats.as_dict()}


def _scan_requests(ctx: Context, n: int) -> tuple[list[Req], str]:
    """Scans that each move one device one step, from pools of devices whose next step the action is."""
    h = ctx.headers(json_body=True)
    programme, partner = _ids(ctx, "SELECT id FROM programmes ORDER BY id"), \
        _ids(ctx, "SELECT id FROM organisations WHERE kind = 'partner' ORDER BY id")
    pools = [("received", {"action": "diagnose", "verdict": "refurbish"}),
             ("collected", {"action": "receive"}),
             ("wiped", {"action": "refurbish"}),
             ("refurbished", {"action": "ready", "grade": "B"}),
             ("ready", {"action": "reserve", "programme_id": programme, "partner_organisation_id": partner})]
    reqs = []
    for state, action in pools:
        for tag in ctx.take(state, n - len(reqs)):
            body = {"code": tag, "scan_id": uuid.uuid4().hex, "station": "bench-poste-1", **action}
            reqs.append(Req("POST", "/api/v1/scans", json.dumps(body).encode(), h))
        if len(reqs) >= n:
            break
    if len(reqs) < n:
        raise RuntimeError(f"only {len(reqs)} devices left to scan, {n} wanted: build a larger dataset")
    return reqs, ("diagnose (verdict refurbish) on received devices; when they run out receive on collected, "
                  "refurbish on wiped, ready on refurbished, reserve on ready devices")


def _ids(ctx: Context, sql: str) -> int:
    with ctx.app.app_context():
        value = db.session.execute(text(sql)).scalar()
        db.session.remove()
    return value


def scan(ctx: Context) -> dict:
    """POST /api/v1/scans: one technician in sequence, then 8 stations at once; each scan moves a new device."""
    if not ctx.has_path("/api/v1/scans"):
        return not_available("POST /api/v1/scans is not in the OpenAPI document")
    warm, _ = _scan_requests(ctx, 50)
    load.run(ctx.server.port, warm, clients=2, duration=5, cycle=False)
    reqs, how = _scan_requests(ctx, 300)
    seq = load.run(ctx.server.port, reqs, clients=1, duration=ctx.duration / 2, cycle=False)
    reqs, _ = _scan_requests(ctx, 1000)
    conc = load.run(ctx.server.port, reqs, clients=8, duration=ctx.duration, cycle=False)
    return {"action": how, "sequential": seq.as_dict(), "concurrent": conc.as_dict()}


def _imports_path(ctx: Context) -> str | None:
    paths = ctx.openapi().get("paths", {})
    return next((p for p in paths if p.startswith("/api/v1/batches/") and p.rstrip("/").endswith("imports")
                 and "post" in paths[p]), None)


def _new_batch(ctx: Context, name: str) -> int:
    h = ctx.headers("technician", json_body=True)
    status, body, _ = load.one(ctx.server.port, Req("POST", "/api/v1/batches", json.dumps(
        {"name": f"{name} {uuid.uuid4().hex[:6]}", "donor_organisation_id": _donor_id(ctx)}).encode(), h))
    if status not in (200, 201):
        raise RuntimeError(f"creating the batch answered {status}: {body[:300]!r}")
    return json.loads(body)["id"]


def _post_csv(ctx: Context, path: str, batch_id: int, data: bytes) -> tuple[int, bytes, float]:
    boundary = uuid.uuid4().hex
    payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.csv\"\r\n"
               f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    headers = ctx.headers("technician") + (("Content-Type", f"multipart/form-data; boundary={boundary}"),)
    url = path.replace("{batch_id}", str(batch_id)).replace("{id}", str(batch_id))
    return load.one(ctx.server.port, Req("POST", url, payload, headers))


def _peak_growth(ctx: Context, fn):
    """Run ``fn`` and return (its result, the server's resident memory before and its peak during it, in MiB)."""
    before, _ = ctx.server.rss_kib()
    ctx.server.reset_peak()
    out = fn()
    _, peak = ctx.server.rss_kib()
    return out, round(before / 1024, 1), round(peak / 1024, 1)


def csv_import(ctx: Context, rows: int = 10000) -> dict:
    """POST /api/v1/batches/<id>/imports with a 10,000-row CSV (validation, duplicate check, tags, events)."""
    path = _imports_path(ctx)
    if path is None or not ctx.has_path("/api/v1/batches"):
        return not_available("no POST /api/v1/batches/{id}/imports in the OpenAPI document")
    batch_id = _new_batch(ctx, "Bench import")
    data = _csv(rows, ctx.rng)
    (status, body, seconds), before, peak = _peak_growth(ctx, lambda: _post_csv(ctx, path, batch_id, data))
    if status not in (200, 201):
        return {"status": "error", "why": f"import answered {status}: {body[:500]!r}", "seconds": round(seconds, 3)}
    return {"rows": rows, "bytes": len(data), "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1),
            "endpoint": path, "batch_id": batch_id, "server_rss_before_mib": before, "server_peak_rss_mib": peak,
            "peak_growth_mib": round(peak - before, 1)}


def batch_at_max(ctx: Context, batch_id: int | None = None) -> dict:
    """A batch at its maximum size (BATCH_MAX_DEVICES): a file of 100,000 rows refused (the server's memory),
    then the batch's reconciliation, device list and slip PDF, and its collection (one batch-wide write)."""
    path = _imports_path(ctx)
    if path is None:
        return not_available("no POST /api/v1/batches/{id}/imports in the OpenAPI document")
    limit = ctx.app.config.get("BATCH_MAX_DEVICES")
    if not limit:
        return not_available("no BATCH_MAX_DEVICES in the configuration")
    out: dict = {"batch_max_devices": limit}
    if batch_id is None:
        batch_id = _new_batch(ctx, "Bench full batch")
        status, body, seconds = _post_csv(ctx, path, batch_id, _csv(limit, ctx.rng))
        if status not in (200, 201):
            return {"status": "error", "why": f"import answered {status}: {body[:300]!r}"}
    big = _csv(100_000, ctx.rng)
    other = _new_batch(ctx, "Bench oversized file")
    (status, body, seconds), before, peak = _peak_growth(ctx, lambda: _post_csv(ctx, path, other, big))
    out["file_of_100000_rows"] = {
        "status": status,
        "bytes": len(big),
        "seconds": round(seconds, 3),
        "server_rss_before_mib": before,
        "server_peak_rss_mib": peak,
        "peak_growth_mib": round(peak - before, 1),
        "answer": body[:200].decode(errors="replace"),
    }
    reader = ctx.headers("auditor")
    for name, url in (("reconciliation", f"/api/v1/batches/{batch_id}/reconciliation"),
                      ("device_list", f"/api/v1/batches/{batch_id}/devices"),
                      ("slip_pdf", f"/api/v1/batches/{batch_id}/slip.pdf")):
        (status, body, seconds), before, peak = _peak_growth(
            ctx, lambda url=url: load.one(ctx.server.port, Req("GET", url, None, reader)))
        out[name] = {"status": status, "bytes": len(body), "seconds": round(seconds, 3),
                     "peak_growth_mib": round(peak - before, 1)}
    status, body, seconds = load.one(ctx.server.port, Req(
        "POST", f"/api/v1/batches/{batch_id}/collect", b"{}", ctx.headers("technician", json_body=True)))
    out["collect"] = {"status": status, "seconds": round(seconds, 3), "devices": limit}
    return out


def _donor_id(ctx: Context) -> int:
    with ctx.app.app_context():
        value = db.session.execute(text("SELECT id FROM organisations WHERE kind = 'donor' ORDER BY id")).scalar()
        db.session.remove()
    return value


def _csv(rows: int, rng: random.Random) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, delimiter=";")
    w.writerow(["Type", "Marque", "Modèle", "Numéro de série", "IMEI", "Valeur unitaire (€)", "Remarques",
                "Type de disque", "N° de série du disque", "Capacité du disque (Go)"])
    run = uuid.uuid4().hex[:6].upper()
    for i in range(rows):
        kind = rng.choice(("Portable", "Portable", "Unité centrale", "Tablette"))
        w.writerow([kind, "Lenovo", "ThinkPad T480", f"IMP{run}{i:07d}", "", "80", "Bon état",
                    "SSD", f"DIMP{run}{i:07d}", "256"])
    return out.getvalue().encode("utf-8")


def audit_verify_http(ctx: Context) -> dict:
    """GET /api/v1/audit/verify: the whole chain recomputed by the server."""
    if not ctx.has_path("/api/v1/audit/verify", "get"):
        return not_available("GET /api/v1/audit/verify is not in the OpenAPI document")
    status, body, seconds = load.one(ctx.server.port, Req("GET", "/api/v1/audit/verify", None, ctx.headers("auditor")))
    if status != 200:
        return {"status": "error", "why": f"answered {status}: {body[:300]!r}"}
    result = json.loads(body)
    return {"ok": result.get("ok"), "events": result.get("checked"), "seconds": round(seconds, 3),
            "events_per_s": round((result.get("checked") or 0) / seconds, 1)}


def export(ctx: Context) -> dict:
    """The auditors' export of every custody event, streamed: time and the server's peak memory."""
    paths = ctx.openapi().get("paths", {})
    found = None
    for p in paths:
        if "get" not in paths[p] or "event" not in p or not ("export" in p or "events.{" in p):
            continue
        concrete = p.replace("{fmt}", "jsonl").replace("{format}", "jsonl")
        if "{" not in concrete:
            found = (p, concrete)
            break
    if found is None:
        return not_available("no GET export of events in the OpenAPI document")
    path = found[1]
    params = [x.get("name") for x in paths[found[0]]["get"].get("parameters", [])]
    query = "?format=jsonl" if "format" in params else ""
    rss_before, _ = ctx.server.rss_kib()
    reset = ctx.server.reset_peak()
    status, size, seconds, head = load.stream(ctx.server.port, Req("GET", path + query, None, ctx.headers("auditor")))
    rss_after, peak = ctx.server.rss_kib()
    if status != 200:
        return {"status": "error", "why": f"answered {status}: {head[:300]!r}"}
    return {"endpoint": path + query, "bytes": size, "seconds": round(seconds, 3),
            "server_rss_before_mib": round(rss_before / 1024, 1), "server_peak_rss_mib": round(peak / 1024, 1),
            "peak_growth_mib": round((peak - rss_before) / 1024, 1), "peak_reset": reset}


# ---------------------------------------------------------------- in-process scenarios


def labels(ctx: Context) -> dict:
    """1,000 labels as one A4 PDF, and single-label SVGs per second (asset_tracker.labels.render)."""
    try:
        render = importlib.import_module("asset_tracker.labels.render")
        templates = importlib.import_module("asset_tracker.labels.templates")
    except ImportError as exc:
        return not_available(f"asset_tracker.labels.render cannot be imported ({exc})")
    catalogue = templates.load_templates(ctx.app.config.get("LABEL_TEMPLATE_DIR") or "labels")
    sheet = next((t for name, t in sorted(catalogue.items()) if "3x7" in name), None) or next(iter(catalogue.values()))
    tags = ctx.random_tags(1000)
    data = [render.LabelData(tag=t, line="Portable Lenovo ThinkPad T480 — Collégiens 2026") for t in tags]
    render.render_pdf(sheet, data[:21])  # warm-up (fonts, caches)
    t0 = time.perf_counter()
    pdf = render.render_pdf(sheet, data)
    pdf_s = time.perf_counter() - t0
    svg_data = [render.LabelData(tag=t, line="Portable Lenovo ThinkPad T480") for t in ctx.random_tags(1000)]
    t0 = time.perf_counter()
    for d in svg_data:
        render.render_svg(sheet, d)
    svg_s = time.perf_counter() - t0
    return {"template": getattr(sheet, "name", "?"), "pdf_labels": 1000, "pdf_seconds": round(pdf_s, 3),
            "pdf_bytes": len(pdf), "svg_count": len(svg_data), "svg_per_s": round(len(svg_data) / svg_s, 1)}


def _sweep_function():
    try:
        module = importlib.import_module("asset_tracker.reminders.services")
    except ImportError:
        return None
    return getattr(module, "run_sweep", None) or getattr(module, "sweep", None)


def sweep(ctx: Context) -> dict:
    """The reminder sweep, in-process: the first one (creates every reminder) and the next (steady state)."""
    fn = _sweep_function()
    if fn is None:
        return not_available("asset_tracker.reminders.services has no run_sweep")
    out = {}
    with ctx.app.app_context():
        module = importlib.import_module("asset_tracker.reminders.services")
        settings = getattr(module, "MailSettings", None)
        kw = {"settings": settings.of(ctx.app.config)} if settings is not None else {}
        for label in ("first", "steady"):
            t0 = time.perf_counter()
            counts = fn(send=False, **kw)
            out[f"{label}_seconds"] = round(time.perf_counter() - t0, 4)
            out[f"{label}_counts"] = {k: v for k, v in counts.items() if k != "seconds"}
            db.session.remove()
    out["mails"] = "not sent (send=False): the sweep's SQL only"
    return out


def scan_during_sweep(ctx: Context, normal: dict | None) -> dict:
    """8 clients scan while one sweep (a month ahead: many reminders to open) runs in another process.

    The p99 compared with the normal one is that of the scans in flight while the sweep ran.
    """
    if _sweep_function() is None:
        return not_available("asset_tracker.reminders.services has no run_sweep")
    if not ctx.has_path("/api/v1/scans"):
        return not_available("POST /api/v1/scans is not in the OpenAPI document")
    code = ("import sys, time, datetime as dt\n"
            "from bench.database import make_app\n"
            "from asset_tracker.reminders import services\n"
            "app = make_app(sys.argv[1])\n"
            "with app.app_context():\n"
            "    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
            "    now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)\n"
            "    kw = {'settings': services.MailSettings.of(app.config)} if hasattr(services, 'MailSettings') else {}\n"
            "    start = time.time(); counts = services.run_sweep(now, send=False, **kw)\n"
            "    print(start, time.time(), counts.get('created'), flush=True)\n")
    reqs, _ = _scan_requests(ctx, 1000)
    sweep_at = time.time() + 2.0 + ctx.duration / 3  # the app starts, the scans start, then the sweep
    proc = subprocess.Popen([sys.executable, "-c", code, ctx.target.url, str(sweep_at)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    time.sleep(max(0.0, sweep_at - ctx.duration / 3 - time.time()))
    stats = load.run(ctx.server.port, reqs, clients=8, duration=ctx.duration, cycle=False)
    out = proc.communicate(timeout=600)[0].decode().split()
    if len(out) < 2:
        return {"status": "error", "why": "the sweep process printed nothing"}
    start, end = float(out[0]), float(out[1])
    during = stats.window(start, end)
    result = {"sweep_seconds": round(end - start, 4), "sweep_created": out[2] if len(out) > 2 else None,
              "during_sweep": during.as_dict(), "whole_window": stats.as_dict()}
    if normal and normal.get("p99_ms") and during.latencies_ms:
        result["p99_ratio_to_normal"] = round(during.pct(99) / normal["p99_ms"], 2)
    result["note"] = ("one sweep at now+30 days from a separate process (as `flask reminders run` or a scheduler "
                      "process would); p99 over the scans in flight during it")
    return result


def verify_in_process(built) -> dict:
    return {"events": built.verify_checked, "seconds": round(built.verify_seconds, 3),
            "events_per_s": round(built.verify_checked / built.verify_seconds, 1) if built.verify_seconds else None}


def scan_burst(ctx: Context, clients: int, n: int) -> dict:
    """Scans only (for profiling): ``n`` devices moved by ``clients`` clients."""
    if not ctx.has_path("/api/v1/scans"):
        return not_available("POST /api/v1/scans is not in the OpenAPI document")
    reqs, _ = _scan_requests(ctx, n)
    return load.run(ctx.server.port, reqs, clients=clients, duration=ctx.duration, cycle=False).as_dict()


def lookup_burst(ctx: Context, clients: int) -> dict:
    h = ctx.headers()
    reqs = [Req("GET", f"/api/v1/devices/{t}", None, h) for t in ctx.random_tags(5000)]
    return load.run(ctx.server.port, reqs, clients=clients, duration=ctx.duration).as_dict()
