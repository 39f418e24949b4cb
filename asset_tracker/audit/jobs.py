"""Scheduled audit work: sign a checkpoint of the custody chain every night."""
from __future__ import annotations

import logging

from flask import current_app

from ..core import Actor
from ..errors import DomainError
from . import services

log = logging.getLogger(__name__)


def checkpoint():
    """Runs in an app context (the scheduler provides one); a refusal is logged, never raised."""
    try:
        cp = services.sign_checkpoint(actor=Actor.system("scheduler"),
                                      key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    except DomainError as err:
        log.error("no custody checkpoint signed: %s", err)
        return None
    log.info("custody checkpoint #%s signed with key %s", cp.seq, cp.key_id)
    return cp.id


JOBS = [("audit.checkpoint", checkpoint, {"trigger": "cron", "hour": 2})]
