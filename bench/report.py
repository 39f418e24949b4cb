"""Results against SPEC.md's targets: a terminal table, bench/results/latest-<db>.json and docs/benchmarks.md."""
from __future__ import annotations

import json
import os
import platform
import re
import sqlite3
import subprocess
from urllib.parse import urlsplit, urlunsplit

import psycopg

from .database import RESULTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
NA = "not available"


def machine(database_url: str | None, kind: str) -> dict:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    ram = None
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
            ram = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "ram": ram, "python": platform.python_version(),
            "os": platform.platform(), "sqlite": sqlite3.sqlite_version}
    if kind == "postgresql":
        try:
            parts = urlsplit(database_url.replace("postgresql+psycopg://", "postgresql://"))
            with psycopg.connect(urlunsplit(parts._replace(path="/postgres"))) as conn:
                info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        except Exception as exc:  # the report still gets written
            info["postgresql"] = f"? ({exc.__class__.__name__})"
    return info


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


# ---------------------------------------------------------------- targets


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _na(section) -> bool:
    return section is None or (isinstance(section, dict) and section.get("status") in (NA, "error", "not run"))


def _why(section) -> str:
    if section is None:
        return "not run"
    return f"{section.get('status')}: {section.get('why', '')}".strip(": ")


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**not met**")


def targets(kind: str, sizes: dict) -> list[dict]:
    """SPEC.md's targets, each with the figure measured at the largest size of the run (ratios to P of that run)."""
    if not sizes:
        return []
    keys = sorted(sizes, key=int)
    # Sizes run only for one scenario (e.g. the 1M sweep) do not stand in for the full runs.
    full = [k for k in keys if _get(sizes[k], "waitress", "lookup")] or keys
    keys = full
    big, small = sizes[keys[-1]], sizes[keys[0]]
    at = f"{int(keys[-1]):,} devices"
    pg = kind == "postgresql"
    rows = []

    def add(what, target, measured, ok, note=""):
        rows.append({"what": what, "target": target, "measured": measured, "verdict": _verdict(ok), "note": note})

    def na(what, target, section):
        add(what, target, _why(section), None)

    p = _get(big, "waitress", "bare", "rate_per_s")
    sc = _get(big, "waitress", "scan")
    share = 3 if pg else 5
    if _na(sc) or not p:
        na("scan, 8 concurrent clients: rate", f"≥ {share} % of P", sc)
        na("scan, 8 clients: p99", "≤ 100 ms and ≤ 10 × p50", sc)
        na("scan, one technician in sequence: p50", f"≤ {8 if pg else 5} ms", sc)
    else:
        c, s = sc["concurrent"], sc["sequential"]
        ratio = 100 * c["rate_per_s"] / p
        add("scan, 8 concurrent clients: rate", f"≥ {share} % of P",
            f"{c['rate_per_s']:.0f}/s = {ratio:.1f} % of P ({p:.0f}/s)", ratio >= share, at)
        ok = c["p99_ms"] is not None and c["p99_ms"] <= 100 and c["p99_ms"] <= 10 * c["p50_ms"]
        add("scan, 8 clients: p99", "≤ 100 ms and ≤ 10 × p50",
            f"p99 {c['p99_ms']:.1f} ms, p50 {c['p50_ms']:.1f} ms ({c['p99_ms'] / c['p50_ms']:.1f} × p50)", ok, at)
        limit = 8 if pg else 5
        add("scan, one technician in sequence: p50", f"≤ {limit} ms",
            f"{s['p50_ms']:.2f} ms (p99 {s['p99_ms']:.1f} ms)", s["p50_ms"] <= limit, at)

    lk = _get(big, "waitress", "lookup")
    if _na(lk) or not p:
        na("device look-up by tag: rate", "≥ 20 % of P", lk)
    else:
        ratio = 100 * lk["concurrent"]["rate_per_s"] / p
        add("device look-up by tag: rate", "≥ 20 % of P",
            f"{lk['concurrent']['rate_per_s']:.0f}/s = {ratio:.1f} % of P", ratio >= 20, at)
    lk_small = _get(small, "waitress", "lookup")
    if len(keys) > 1 and not _na(lk) and not _na(lk_small):
        a, b = lk_small["sequential"]["p50_ms"], lk["sequential"]["p50_ms"]
        add("device look-up: p50 growth", "p50 at 1M ≤ 1.5 × p50 at 10k",
            f"{b:.2f} ms at {int(keys[-1]):,} vs {a:.2f} ms at {int(keys[0]):,} = {b / a:.2f} ×", b / a <= 1.5,
            "measured 100k vs 10k; 1M devices is not built by the default run")
    else:
        add("device look-up: p50 growth", "p50 at 1M ≤ 1.5 × p50 at 10k", "needs two sizes in one run", None)

    imp = _get(big, "waitress", "import")
    floor = 5000 if pg else 10000
    if _na(imp):
        na("CSV import with validation and duplicate check", f"≥ {floor:,} rows/s", imp)
    else:
        add("CSV import with validation and duplicate check", f"≥ {floor:,} rows/s",
            f"{imp['rows_per_s']:,.0f} rows/s ({imp['rows']:,} rows in {imp['seconds']:.2f} s)",
            imp["rows_per_s"] >= floor, at)

    lb = _get(big, "labels") or next((_get(sizes[k], "labels") for k in keys if _get(sizes[k], "labels")), None)
    if _na(lb):
        na("labels: 1,000 as one PDF", "≤ 2 s", lb)
        na("labels: SVG", "≥ 500/s", lb)
    else:
        add("labels: 1,000 as one PDF", "≤ 2 s", f"{lb['pdf_seconds']:.2f} s", lb["pdf_seconds"] <= 2)
        add("labels: SVG", "≥ 500/s", f"{lb['svg_per_s']:,.0f}/s", lb["svg_per_s"] >= 500)

    for size_key, limit, label in (("100000", 0.3, "100k"), ("1000000", 2.0, "1M")):
        sw = _get(sizes.get(size_key), "sweep")
        if sizes.get(size_key) is None:
            add(f"reminder sweep at {label} devices", f"≤ {limit} s", f"not run at {label} devices", None,
                "python -m bench --size 1000000 --only sweep" if label == "1M" else "")
        elif _na(sw):
            na(f"reminder sweep at {label} devices", f"≤ {limit} s", sw)
        else:
            add(f"reminder sweep at {label} devices", f"≤ {limit} s",
                f"{sw['steady_seconds']:.3f} s (first sweep, creating every reminder: {sw['first_seconds']:.3f} s)",
                sw["steady_seconds"] <= limit, "steady state: a sweep after the first")
    ds = _get(big, "waitress", "scan_during_sweep")
    if _na(ds):
        na("scan p99 during a sweep", "≤ 2 × normal", ds)
    else:
        r = ds.get("p99_ratio_to_normal")
        add("scan p99 during a sweep", "≤ 2 × normal",
            f"p99 {ds['during_sweep']['p99_ms']:.1f} ms over {ds['during_sweep']['requests']} scans in flight during "
            f"a {ds['sweep_seconds']:.2f} s sweep = {r} × normal" if r is not None else "no scan overlapped the sweep",
            None if r is None else r <= 2, at + "; sweep from another process")

    vi = _get(big, "verify_in_process")
    if vi:
        add("audit verify (in process, verify_chain)", "≥ 100,000 events/s",
            f"{vi['events_per_s']:,.0f} events/s ({vi['events']:,} in {vi['seconds']:.1f} s)",
            vi["events_per_s"] >= 100000)
    vh = _get(big, "waitress", "verify")
    if _na(vh):
        na("audit verify (GET /api/v1/audit/verify)", "≥ 100,000 events/s", vh)
    else:
        add("audit verify (GET /api/v1/audit/verify)", "≥ 100,000 events/s",
            f"{vh['events_per_s']:,.0f} events/s ({vh['events']:,} in {vh['seconds']:.1f} s)",
            vh["events_per_s"] >= 100000)
    ex = _get(big, "waitress", "export")
    events = _get(big, "dataset", "events") or 0
    if _na(ex):
        na("export of 1M events", "≤ 15 s in constant memory", ex)
    else:
        ok = ex["seconds"] * 1_000_000 / max(events, 1) <= 15 and ex["peak_growth_mib"] <= 64
        add("export of 1M events", "≤ 15 s in constant memory",
            f"{ex['seconds']:.1f} s for {events:,} events, {ex['bytes'] / 1e6:.0f} MB; server peak RSS "
            f"+{ex['peak_growth_mib']:.0f} MiB", ok, "constant memory read as: peak growth ≤ 64 MiB")
    return rows


# ---------------------------------------------------------------- output


def table(rows: list[dict]) -> str:
    headers = ("what", "target", "measured", "verdict")
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in headers] if rows else [10] * 4
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(str(r[h]).replace("**", "").ljust(w) for h, w in zip(headers, widths, strict=False)))
    return "\n".join(out)


def merge(result: dict) -> dict:
    """This run's sizes added to the last result of the same database; each size says which run made it."""
    path = os.path.join(RESULTS, f"latest-{result['database']}.json")
    for size in result["sizes"].values():
        size["run"] = {"command": result["command"], "commit": result["commit"]}
    if not os.path.exists(path):
        return result
    with open(path) as f:
        previous = json.load(f)
    for size in previous["sizes"].values():
        size.setdefault("run", {"command": previous["command"], "commit": previous["commit"]})
    result["sizes"] = {**previous["sizes"], **result["sizes"]}
    result["command"] = f"{previous['command']}; then {result['command']}"
    if not result.get("served_by"):
        result["served_by"] = previous.get("served_by", "")
    return result


def write_json(result: dict) -> str:
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"latest-{result['database']}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2, ensure_ascii=False, default=str)
    return path


def _ms(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def _scaling(result: dict) -> list[str]:
    sizes = result["sizes"]
    keys = sorted(sizes, key=int)
    head = "| scenario | " + " | ".join(f"{int(k):,} devices" for k in keys) + " |"
    lines = [head, "|---" * (len(keys) + 1) + "|"]

    def row(label, fn):
        cells = []
        for k in keys:
            try:
                cells.append(fn(sizes[k]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    def http(server, name):
        def get(s):
            v = s[server][name]
            if _na(v):
                return _why(v)
            return v
        return get

    row("dataset: devices / events / build s", lambda s: f"{s['dataset']['devices']:,} / {s['dataset']['events']:,} / "
                                                         f"{s['dataset']['build_s']:.0f} s")
    row("P: GET /healthz, 8 clients (req/s, p50 ms)",
        lambda s: f"{s['waitress']['bare']['rate_per_s']:,.0f}/s, {_ms(s['waitress']['bare']['p50_ms'])}")
    row("look-up by tag, 1 client: p50 / p99 ms",
        lambda s: f"{_ms(s['waitress']['lookup']['sequential']['p50_ms'])} / "
                  f"{_ms(s['waitress']['lookup']['sequential']['p99_ms'])}")
    row(
        "look-up by tag, 8 clients: req/s (% of P)",
        lambda s: (
            f"{s['waitress']['lookup']['concurrent']['rate_per_s']:,.0f}/s "
            f"({100 * s['waitress']['lookup']['concurrent']['rate_per_s'] / s['waitress']['bare']['rate_per_s']:.0f} %)"
        ),
    )
    row("list with filters, 8 clients: req/s, p50 / p99 ms",
        lambda s: f"{s['waitress']['list']['rate_per_s']:,.0f}/s, {_ms(s['waitress']['list']['p50_ms'])} / "
                  f"{_ms(s['waitress']['list']['p99_ms'])}")

    def scan_cell(kind):
        def get(s):
            v = http("waitress", "scan")(s)
            if isinstance(v, str):
                return v
            c = v[kind]
            pct = 100 * c["rate_per_s"] / s["waitress"]["bare"]["rate_per_s"]
            return f"{c['rate_per_s']:,.0f}/s ({pct:.1f} % of P), p50 {_ms(c['p50_ms'])}, p99 {_ms(c['p99_ms'])}"
        return get

    row("scan, 1 client", scan_cell("sequential"))
    row("scan, 8 clients", scan_cell("concurrent"))

    def during(s):
        v = http("waitress", "scan_during_sweep")(s)
        if isinstance(v, str):
            return v
        return (f"p99 {_ms(v['during_sweep']['p99_ms'])} ms ({v.get('p99_ratio_to_normal')} × normal) over "
                f"{v['during_sweep']['requests']} scans during a {v['sweep_seconds']:.2f} s sweep")
    row("scan, 8 clients, during a sweep", during)

    def sweep(s):
        v = s.get("sweep")
        if _na(v):
            return _why(v)
        return (f"{v['steady_seconds']:.3f} s "
                f"(first {v['first_seconds']:.3f} s, {v['first_counts'].get('created')} created)")

    row("reminder sweep (in process)", sweep)

    def imp(s):
        v = http("waitress", "import")(s)
        return v if isinstance(v, str) else f"{v['rows_per_s']:,.0f} rows/s ({v['seconds']:.2f} s)"
    row("CSV import, 10,000 rows", imp)
    row("audit verify in process", lambda s: f"{s['verify_in_process']['events_per_s']:,.0f} events/s "
                                             f"({s['verify_in_process']['seconds']:.1f} s)")

    def vh(s):
        v = http("waitress", "verify")(s)
        return v if isinstance(v, str) else f"{v['events_per_s']:,.0f} events/s ({v['seconds']:.1f} s)"
    row("audit verify over HTTP", vh)

    def ex(s):
        v = http("waitress", "export")(s)
        return v if isinstance(v, str) else f"{v['seconds']:.1f} s, peak RSS +{v['peak_growth_mib']:.0f} MiB"
    row("export of every event", ex)

    def gun(s):
        g = s.get("gunicorn")
        if not g:
            return "not run"
        if _na(g):
            return _why(g)
        parts = [f"P {g['bare']['rate_per_s']:,.0f}/s"]
        if not _na(g.get("lookup")):
            parts.append(f"look-up {g['lookup']['concurrent']['rate_per_s']:,.0f}/s")
        if not _na(g.get("scan")):
            c = g["scan"]["concurrent"]
            parts.append(f"scan 8 clients {c['rate_per_s']:,.0f}/s "
                         f"({100 * c['rate_per_s'] / g['bare']['rate_per_s']:.1f} % of P), p99 {_ms(c['p99_ms'])} ms")
        return "; ".join(parts)
    row("gunicorn (production way)", gun)
    return lines


def section(result: dict) -> str:
    m = result["machine"]
    db_version = f"PostgreSQL {m.get('postgresql')}" if result["database"] == "postgresql" else f"SQLite {m['sqlite']}"
    lines = [
        f"## {'PostgreSQL' if result['database'] == 'postgresql' else 'SQLite'}",
        "",
        f"- When: {result['finished']} — commit `{result['commit']}`",
        f"- Command: `{result['command']}` ({result['elapsed_s'] / 60:.1f} min in all)",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM; Python {m['python']}; {db_version}; {m['os']}",
        f"- Served by: {result['served_by']}",
        f"- Load average (1, 5, 15 min) at start {m.get('load_average', {}).get('start')}, "
        f"at end {m.get('load_average', {}).get('end')} (other work on the machine makes absolute figures noisy; "
        "the ratios to P are what the targets use)",
        "",
        "### Targets (SPEC.md), at the largest size of the run",
        "",
        "| what | target | measured | verdict | note |",
        "|---|---|---|---|---|",
    ]
    for r in result["targets"]:
        lines.append(f"| {r['what']} | {r['target']} | {r['measured']} | {r['verdict']} | {r['note']} |")
    lines += ["", "### Scaling: the same scenarios at each size", "",
              "(— : not run at that size)", ""] + _scaling(result)
    if result.get("profiles"):
        lines += ["", "### Where the time goes (profiles of missed targets)", ""]
        for name, text in result["profiles"].items():
            lines += [f"**{name}**", "", "```", text.strip(), "```", ""]
    return "\n".join(lines) + "\n"


INTRO = """# Benchmarks

Measured by `make bench` (`python -m bench`), which builds a realistic dataset (devices in every state with
their storage media, wipe records and a valid custody chain, verified with `verify_chain` before measuring),
serves the app in a subprocess exactly as `make run` does (waitress, one process, 8 threads) — and, on
PostgreSQL, also as production does with gunicorn — and drives it over 127.0.0.1 from a load generator in
other processes (keep-alive HTTP clients). Every target is a ratio to something measured in the same run:
P is the request rate of `GET /healthz` (one `SELECT 1`) served the same way, by 8 clients.

How to run it: `make bench` (SQLite, sizes 10,000 and 100,000 devices with 10 events per device);
`DATABASE_URL=postgresql://postgres@127.0.0.1:5432/reboot make bench` (a fresh database per size, dropped after);
one scenario or a smaller size: `python -m bench --size 10000 --only lookup` (`--help` lists the options).
Scenarios whose capability is not built yet are reported "not available", never estimated.

This file is regenerated by each run; each database keeps its own section.
"""


def write_doc(result: dict) -> str:
    text = open(DOC).read() if os.path.exists(DOC) else INTRO
    start, end = f"<!-- bench:{result['database']}:start -->", f"<!-- bench:{result['database']}:end -->"
    block = f"{start}\n{section(result)}{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    with open(DOC, "w") as f:
        f.write(text)
    return DOC
