"""Scheduled distribution work: erase beneficiary references past their retention period, leaving no copy."""
from __future__ import annotations

import logging

from flask import current_app

from ..db import reclaim_erased_space
from ..extensions import db
from . import services
from .models import Handover

log = logging.getLogger(__name__)


def purge_references() -> int:
    """Runs in an app context (the scheduler provides one); logs a count, never a reference.

    Ends with the maintenance step that leaves no erased reference in the database files (an erasure
    on request does it at once, but gives up rather than wait long for a lock on the table).
    """
    erased = services.purge_references(retention_days=current_app.config["BENEFICIARY_REF_RETENTION_DAYS"])
    if erased:
        log.info("erased %s beneficiary references past their retention period", erased)
    if not reclaim_erased_space(db.engine, Handover.__tablename__, lock_timeout_ms=60000):
        log.warning("could not reclaim the space of erased beneficiary references; retried next night")
    return erased


JOBS = [("distribution.purge_references", purge_references, {"trigger": "cron", "hour": 3})]
