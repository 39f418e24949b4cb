"""Scheduled distribution work: erase beneficiary references past their retention period."""
from __future__ import annotations

import logging

from . import services

log = logging.getLogger(__name__)


def purge_references() -> int:
    """Runs in an app context (the scheduler provides one); logs a count, never a reference."""
    erased = services.purge_references()
    if erased:
        log.info("erased %s beneficiary references past their retention period", erased)
    return erased


JOBS = [("assignment.purge_references", purge_references, {"trigger": "cron", "hour": 3})]
