"""Serve the app the way `make run` does: one process, many threads (waitress), scheduler in-process.

Installed as the `reboot-tracker` command (pyproject.toml)."""
from __future__ import annotations

import argparse
import logging
import os
import socket

from waitress import serve

from config import default

from . import create_app


def default_base_url(host: str, port: int) -> str:
    """The address people reach this server at, for the links in reminder e-mails."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn() or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def base_url_is_default(value: str) -> bool:
    """True unless BASE_URL was configured (an environment file or ASSET_TRACKER_BASE_URL)."""
    return os.environ.get("ASSET_TRACKER_BASE_URL") is None and value == default.BASE_URL


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="reboot-tracker", description="Serve Reboot Tracker with waitress.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--env", default=os.environ.get("ASSET_TRACKER_ENV", "development"))
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(args.env)
    if base_url_is_default(app.config["BASE_URL"]):
        app.config["BASE_URL"] = default_base_url(args.host, args.port)
    logging.getLogger(__name__).info("links in e-mails point to %s", app.config["BASE_URL"])
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="reboot-tracker",
          connection_limit=200, channel_timeout=60)


if __name__ == "__main__":
    main()
