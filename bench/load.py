"""Load generator: keep-alive HTTP clients in separate processes (threads inside), latencies per request."""
from __future__ import annotations

import http.client
import multiprocessing
import statistics
import threading
import time
from array import array
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    body: bytes | None = None
    headers: tuple = ()


@dataclass
class Stats:
    clients: int
    requests: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    statuses: dict
    first_error: str | None = None
    started_at: list[float] = field(default_factory=list, repr=False)  # epoch seconds, same order as latencies

    def window(self, start: float, end: float) -> Stats:
        """The requests that were in flight at some moment between ``start`` and ``end`` (epoch seconds)."""
        pairs = [(t, ms) for t, ms in zip(self.started_at, self.latencies_ms, strict=False)
                 if t <= end and t + ms / 1000 >= start]
        return Stats(self.clients, len(pairs), max(end - start, 1e-9), [ms for _, ms in pairs], {}, None,
                     [t for t, _ in pairs])

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(q / 100 * (len(data) - 1))))]

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= int(s) < 300)

    def as_dict(self) -> dict:
        return {"clients": self.clients, "requests": self.requests, "seconds": round(self.seconds, 3),
                "rate_per_s": round(self.rate, 1), "p50_ms": _r(self.pct(50)), "p90_ms": _r(self.pct(90)),
                "p99_ms": _r(self.pct(99)), "max_ms": _r(max(self.latencies_ms) if self.latencies_ms else None),
                "mean_ms": _r(statistics.fmean(self.latencies_ms) if self.latencies_ms else None),
                "statuses": self.statuses, "first_error": self.first_error}


def _r(v):
    return None if v is None else round(v, 3)


def _client(port, reqs, cycle, start_at, stop_at, out, lock):
    lat = array("d")
    starts = array("d")
    statuses: dict[int, int] = {}
    first_error = None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    now = time.time()
    if start_at > now:
        time.sleep(start_at - now)
    i, n = 0, len(reqs)
    perf = time.perf_counter
    while n and time.time() < stop_at:
        if i >= n:
            if not cycle:
                break
            i = 0
        r = reqs[i]
        i += 1
        starts.append(time.time())
        t0 = perf()
        try:
            conn.request(r.method, r.path, body=r.body, headers=dict(r.headers))
            resp = conn.getresponse()
            body = resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status, body = 599, repr(exc).encode()
        lat.append((perf() - t0) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 300 and first_error is None:
            first_error = f"{status} {r.method} {r.path}: {body[:300].decode(errors='replace')}"
    conn.close()
    with lock:
        out.append((lat, starts, statuses, first_error, time.time()))


def _process(port, chunks, cycle, start_at, stop_at, queue):
    out, lock = [], threading.Lock()
    threads = [threading.Thread(target=_client, args=(port, c, cycle, start_at, stop_at, out, lock)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put([(lat.tobytes(), starts.tobytes(), st, err, end) for lat, starts, st, err, end in out])


def run(port: int, reqs: list[Req], *, clients: int = 1, duration: float = 5.0, cycle: bool = True,
        processes: int | None = None) -> Stats:
    """Send ``reqs`` (split between ``clients`` keep-alive connections) for ``duration`` seconds.

    With ``cycle=False`` each request is sent once (scans: one device each) and a client stops when its
    share is done. Clients run as threads in up to two processes (this machine has two cores).
    """
    processes = processes or min(clients, 2)
    per_client = [reqs[i::clients] for i in range(clients)]
    groups = [per_client[p::processes] for p in range(processes)]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start_at = time.time() + 0.3
    stop_at = start_at + duration
    procs = [ctx.Process(target=_process, args=(port, g, cycle, start_at, stop_at, queue)) for g in groups]
    for p in procs:
        p.start()
    results = []
    for _ in procs:
        results.extend(queue.get())
    for p in procs:
        p.join()
    latencies: list[float] = []
    started: list[float] = []
    statuses: dict[str, int] = {}
    first_error, end = None, start_at
    for raw, raw_starts, st, err, finished in results:
        lat, starts = array("d"), array("d")
        lat.frombytes(raw)
        starts.frombytes(raw_starts)
        latencies.extend(lat)
        started.extend(starts)
        for s, n in st.items():
            statuses[str(s)] = statuses.get(str(s), 0) + n
        first_error = first_error or err
        end = max(end, finished)
    return Stats(clients, len(latencies), max(end - start_at, 1e-9), latencies, statuses, first_error, started)


def one(port: int, req: Req, timeout: float = 600) -> tuple[int, bytes, float]:
    """A single request: (status, body, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.perf_counter()
    conn.request(req.method, req.path, body=req.body, headers=dict(req.headers))
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body, time.perf_counter() - t0


def stream(port: int, req: Req, timeout: float = 600) -> tuple[int, int, float, bytes]:
    """Read a streamed response in chunks without keeping it: (status, bytes, seconds, first bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.perf_counter()
    conn.request(req.method, req.path, body=req.body, headers=dict(req.headers))
    resp = conn.getresponse()
    total, head = 0, b""
    while True:
        chunk = resp.read(1 << 16)
        if not chunk:
            break
        if len(head) < 2000:
            head += chunk[:2000]
        total += len(chunk)
    conn.close()
    return resp.status, total, time.perf_counter() - t0, head
