"""The app served in a subprocess over 127.0.0.1: waitress as `make run` does, or gunicorn as production does."""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUNICORN_WORKERS, GUNICORN_THREADS = 2, 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``with Server(url, "waitress") as srv: srv.port``; the server's output goes to a log file."""

    def __init__(self, database_url: str, kind: str = "waitress", log_path: str | None = None):
        self.database_url, self.kind = database_url, kind
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        if self.kind == "waitress":
            return [sys.executable, "-m", "asset_tracker.serve", "--host", "127.0.0.1", "--port", str(self.port),
                    "--threads", "8"]
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        return [gunicorn, "-w", str(GUNICORN_WORKERS), "--threads", str(GUNICORN_THREADS), "-b",
                f"127.0.0.1:{self.port}", "--log-level", "warning", "wsgi:app"]

    @property
    def description(self) -> str:
        if self.kind == "waitress":
            return "python -m asset_tracker.serve --threads 8 (waitress, one process, as `make run`)"
        return (f"gunicorn -w {GUNICORN_WORKERS} --threads {GUNICORN_THREADS} wsgi:app "
                "(gthread workers, production configuration)")

    def __enter__(self) -> Server:
        env = dict(os.environ, DATABASE_URL=self.database_url, PYTHONUNBUFFERED="1",
                   # The benchmark runs the reminder sweep itself, at a known moment.
                   ASSET_TRACKER_SCHEDULER_ENABLED="False")
        if self.kind == "waitress":
            env["ASSET_TRACKER_ENV"] = "development"
        else:
            # Production refuses to start without its secrets: throw-away ones for the run.
            env.update(ASSET_TRACKER_ENV="production", ASSET_TRACKER_SECRET_KEY="bench-" + os.urandom(16).hex(),
                       ASSET_TRACKER_BENEFICIARY_HMAC_KEY="bench-" + os.urandom(16).hex(),
                       ASSET_TRACKER_INSECURE_COOKIES="1")
        log = open(self.log_path or os.devnull, "ab")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with status {self.proc.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("the server did not answer /healthz within 60 s")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_kib(self) -> tuple[int, int]:
        """(current, peak) resident memory of the server process, in KiB (Linux /proc)."""
        values = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        key, amount = line.split(":")
                        values[key] = int(amount.split()[0])
        except OSError:
            return 0, 0
        return values.get("VmRSS", 0), values.get("VmHWM", 0)

    def reset_peak(self) -> bool:
        """Reset the kernel's peak-RSS counter so a scenario measures its own peak (Linux >= 4.0)."""
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False
