"""Two organisations of every kind, each side with its own objects: the world the scope tests probe.

Side A: donor "CAF du Rhône", workshop "Weeefund", partner "Emmaüs Connect" (the usual test users).
Side B: donor "Mairie de Lyon", a second workshop, partner "Collège Maria Casarès".
Every object of a side is reachable by that side's donor, technician and coordinator, and by nobody
of the other side.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid

from asset_tracker.core import Actor
from asset_tracker.db import utcnow
from asset_tracker.distribution import services as distribution
from asset_tracker.distribution.models import Handover, Programme
from asset_tracker.extensions import db
from asset_tracker.intake import services as intake
from asset_tracker.labels import services as labels
from asset_tracker.lifecycle import State
from asset_tracker.organisations.models import Organisation, OrgKind
from asset_tracker.reminders.models import Reminder
from asset_tracker.wiping import services as wiping
from asset_tracker.wiping.models import EvidenceFile
from asset_tracker.workshop import services as workshop
from tests.factories import issuing

from . import factories

# Path parameters that name an object of an organisation, and the key of the side's object for each.
ID_PARAMS = {"tag": "tag", "batch_id": "batch_id", "medium_id": "medium_id", "handover_id": "handover_id",
             "recycling_id": "recycling_id", "shipment": "shipment", "sha256": "sha256", "issue_id": "issue_id",
             "scan_id": "scan_id", "reminder_id": "reminder_id", "programme_id": "programme_id"}
# Objects a role has no scope over on either side (the route is open to the role for other objects):
# a coordinator never holds a recycled device; programmes are shared by every workshop.
NOT_SCOPED = {("coordinator", "recycling_id"), ("coordinator", "shipment"), ("technician", "programme_id")}


def _walk(orgs, users, side_users, donor, partner):
    return factories.make_device(orgs, side_users, State.HANDED_OVER, donor=donor, partner=partner)


def build(orgs, users) -> dict:
    """{"A": {...}, "B": {...}, "users": {role: {"A": user, "B": user}}}."""
    workshop_b = Organisation(name="Atelier solidaire de Vénissieux", kind=OrgKind.WORKSHOP,
                              contact_email="workshop_b@example.org")
    db.session.add(workshop_b)
    db.session.commit()
    tech_b = factories.make_user("technician", workshop_b, "tech.w2@example.org")
    out = {"users": {"donor": {"A": users["donor"], "B": users["donor_b"]},
                     "technician": {"A": users["technician"], "B": tech_b},
                     "coordinator": {"A": users["coordinator"], "B": users["coordinator_b"]}},
           "workshops": {"A": orgs["workshop"], "B": workshop_b}}
    for side, donor, partner in (("A", "donor", "partner"), ("B", "donor_b", "partner_b")):
        tech_user = out["users"]["technician"][side]
        tech = Actor.of(tech_user)
        donor_actor = Actor.of(users[donor])
        side_users = {**users, "technician": tech_user}

        batch = intake.create_batch(actor=donor_actor, name=f"Collecte {side}")
        in_batch = intake.add_device(batch.id, actor=donor_actor, type="laptop", serial=f"LOT{side}000001")
        intake.collect_batch(batch.id, actor=tech)

        held = _walk(orgs, users, side_users, donor, partner)  # donor -> this workshop -> this partner
        handover = db.session.query(Handover).filter_by(device_id=held.id).one()

        to_recycle = factories.make_device(orgs, side_users, State.WIPED, donor=donor, verdict="recycle")
        recycling = distribution.record_recycling(
            to_recycle.tag, actor=tech, recycler_organisation_id=orgs["recycler"].id,
            disposal_reference=f"BSD-{side}", shipment_reference=f"SHIP-{side}")

        diagnosed = factories.make_device(orgs, side_users, State.DIAGNOSED, donor=donor)
        now = utcnow()
        wiping.record_manual_wipe(
            diagnosed.tag, diagnosed.media[0].id, actor=tech, evidence_file=("rapport.txt", f"report {side}".encode()),
            result="passed", method="Fill With Zeros", nist_category="clear", tool="nwipe", tool_version="0.35",
            passes=1, verification="last pass", started_at=now - dt.timedelta(hours=1), ended_at=now)
        sha = db.session.query(EvidenceFile).filter_by(filename="rapport.txt").order_by(EvidenceFile.id.desc()) \
            .first().sha256

        received = factories.make_device(orgs, side_users, State.RECEIVED, donor=donor)
        scan_id = uuid.uuid4().hex
        workshop.handle_scan(received.tag, "diagnosed", actor=tech, scan_id=scan_id, verdict="refurbish")

        issue = labels.issue_blank_tags(2, donor_organisation_id=orgs[donor].id, actor=tech, **issuing())

        reminder = Reminder(device_id=held.id, rule_id="loan_overdue", state=State.HANDED_OVER,
                            stay_started_at=now, responsible_organisation_id=orgs[partner].id)
        db.session.add(reminder)
        programme = Programme(name=f"Programme {side}", owner_organisation_id=orgs["owner"].id)
        programme.partners = [orgs[partner]]
        db.session.add(programme)
        db.session.commit()

        out[side] = {"tag": held.tag, "batch_id": batch.id, "batch_device": in_batch.tag, "medium_id": held.media[0].id,
                     "handover_id": handover.id, "recycling_id": recycling.id, "shipment": f"SHIP-{side}",
                     "sha256": sha, "issue_id": issue.id, "scan_id": scan_id, "reminder_id": reminder.id,
                     "programme_id": programme.id, "devices": [held.tag, to_recycle.tag, diagnosed.tag, received.tag]}
    return out


def id_params(rule) -> list[str]:
    return [a for a in rule.arguments if a in ID_PARAMS]


def url_for_side(rule, values: dict, fixed: dict | None = None) -> str:
    """The rule's URL with the side's objects (and fixed values for non-id parameters)."""
    fixed = {"fmt": "csv", **(fixed or {})}

    def sub(match):
        name = match.group(1).split(":")[-1]
        return str(values[ID_PARAMS[name]] if name in ID_PARAMS else fixed[name])

    return re.sub(r"<([^>]+)>", sub, rule.rule)
