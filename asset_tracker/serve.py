"""Serve the app the way `make run` does: one process, many threads (waitress), scheduler in-process."""
from __future__ import annotations

import argparse
import logging
import os


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Serve Reboot Tracker with waitress.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--env", default=os.environ.get("ASSET_TRACKER_ENV", "development"))
    args = parser.parse_args(argv)
    from waitress import serve

    from . import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(args.env)
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="reboot-tracker",
          connection_limit=200, channel_timeout=60)


if __name__ == "__main__":
    main()
