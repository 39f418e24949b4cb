"""Scheduled report work: fold new custody events into the stays the dashboard's percentiles read."""
from __future__ import annotations

import logging

from . import services

log = logging.getLogger(__name__)


def refresh_stays() -> int:
    """Runs in an app context (the scheduler provides one)."""
    added = services.refresh_stays()
    if added:
        log.info("%s stays added to the dashboard's time-in-step figures", added)
    return added


JOBS = [("reports.refresh_stays", refresh_stays, {"trigger": "interval", "minutes": 5})]
