"""Where the server spends its time during a scenario: py-spy samples the server process (if installed)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def available() -> str | None:
    local = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return local if os.path.exists(local) else shutil.which("py-spy")


def record(pid: int, seconds: float, during) -> tuple[str, object]:
    """Sample ``pid`` while ``during()`` runs; returns (summary text, during's result)."""
    exe = available()
    if exe is None:
        return "py-spy is not installed (pip install py-spy) — no profile", during()
    out = tempfile.mktemp(suffix=".txt", prefix="bench-profile-")
    proc = subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(int(seconds) + 1), "--rate", "250",
                             "--format", "raw", "--nonblocking", "--output", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        result = during()
    finally:
        _, err = proc.communicate(timeout=seconds + 60)
    if not os.path.exists(out):
        return f"py-spy failed: {err.decode(errors='replace')[-300:]}", result
    try:
        return summarise(open(out).read()), result
    finally:
        os.remove(out)


def _short(frame: str) -> str:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("site-packages/", "/asset_tracker/", "/lib/python3"):
        if marker in path:
            path = (
                path.split(marker, 1)[1] if marker != "/asset_tracker/" else "asset_tracker/" + path.split(marker, 1)[1]
            )
            break
    return f"{m['func']} ({path})"


def summarise(raw: str, top: int = 14) -> str:
    """Inclusive share of the busy samples per function (app code, SQLAlchemy, Flask…), idle threads excluded."""
    inclusive, own, busy = Counter(), Counter(), 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        if not frames or _idle(frames[-1]):
            continue
        n = int(count)
        busy += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    if not busy:
        return "no busy samples"
    interesting = [(f, n) for f, n in inclusive.most_common() if _interesting(f)][:top]
    lines = [f"{busy} busy samples; inclusive share of the busy time:"]
    lines += [f"  {100 * n / busy:5.1f} %  {f}" for f, n in interesting]
    lines.append("self time (innermost frame):")
    lines += [f"  {100 * n / busy:5.1f} %  {f}" for f, n in own.most_common(8)]
    return "\n".join(lines)


def _idle(frame: str) -> bool:
    return any(w in frame for w in ("wait (threading", "select (selectors", "poll (", "_wait_for_tstate_lock",
                                    "handler_thread (waitress", "get (queue", "accept (socket", "sleep ("))


def _interesting(frame: str) -> bool:
    skip = ("run (threading", "_bootstrap", "handler_thread", "service (waitress", "execute (waitress",
            "<module>", "main (asset_tracker/serve", "serve (waitress", "run (waitress", "__call__ (flask/app",
            "wsgi_app (flask/app", "full_dispatch_request", "dispatch_request (flask/app")
    return not any(s in frame for s in skip)
