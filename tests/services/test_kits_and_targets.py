"""Programme targets, kit kinds, 4G keys as tracked stock, the coordinator's stock and the second-device policy."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import current_app
from sqlalchemy.exc import IntegrityError

from asset_tracker.core import Actor
from asset_tracker.custody.services import accessory_events, device_events, verify_chain
from asset_tracker.db import utcnow
from asset_tracker.distribution import services as dist
from asset_tracker.distribution.models import Accessory, AccessoryKind, AccessoryStatus, Handover
from asset_tracker.errors import Conflict, Invalid
from asset_tracker.lifecycle import State
from asset_tracker.reminders.mail import MailSettings
from tests import factories
from tests.factories import handing_over

FAMILY_KIT = {"code": "family_kit", "name": "Kit famille", "device_types": ["laptop", "desktop"],
              "accessory_kinds": ["mobile_key", "charger"]}


def actor(users, role):
    return Actor.of(users[role])


@pytest.fixture
def reboot(orgs, users):
    """A programme promising 1,000 laptops and 2,000 family kits, with both partners."""
    return dist.create_programme(
        actor=actor(users, "admin"), name="Reboot' 2027", owner_organisation_id=orgs["owner"].id,
        targets=[{"unit": "laptop", "count": 1000}, {"unit": "family_kit", "count": 2000}], kit_kinds=[FAMILY_KIT],
        partner_ids=[orgs["partner"].id, orgs["partner_b"].id], starts_on=dt.date(2026, 1, 1),
        ends_on=dt.date(2099, 12, 31))


def make_kit(orgs, users, type="laptop", parts=("mobile_key", "charger")):
    """A ready device with a 4G key and a charger in its kit (what the workshop prepares)."""
    device = factories.make_device(orgs, users, State.READY, type=type)
    for kind in parts:
        extra = factories.key_numbers() if kind == "mobile_key" else {}
        dist.add_accessory(actor=actor(users, "technician"), kind=kind, device_tag=device.tag, **extra)
    return device


def hand_over(programme, device, users, ref, coordinator="coordinator", kit_kind=None, **kw):
    dist.reserve_device(device.tag, actor=actor(users, coordinator), programme_id=programme.id, kit_kind=kit_kind)
    return dist.record_handover(device.tag, actor=actor(users, coordinator), beneficiary_ref=ref,
                                beneficiary_category="pupil", **kw, **handing_over())


# ---------------------------------------------------------------- 4G keys: unique, valid, tracked


def test_a_duplicate_imei_or_iccid_is_refused_naming_the_existing_key(orgs, users, db):
    tech = actor(users, "technician")
    numbers = factories.key_numbers()
    first = dist.add_accessory(actor=tech, kind="mobile_key", operator="Orange", **numbers)
    for field in ("imei", "iccid"):
        other = factories.key_numbers()
        with pytest.raises(Conflict) as exc:
            dist.add_accessory(actor=tech, kind="mobile_key", **{**other, field: numbers[field]})
        assert exc.value.code == f"duplicate_{field}"
        assert exc.value.details["existing_accessory_id"] == first.id
        assert f"#{first.id}" in str(exc.value)
    assert db.session.query(Accessory).count() == 1


@pytest.mark.parametrize("field", ["imei", "iccid"])
def test_the_database_itself_refuses_a_second_key_with_the_same_number(orgs, users, db, field):
    numbers = factories.key_numbers()
    dist.add_accessory(actor=actor(users, "technician"), kind="mobile_key", **numbers)
    other = factories.key_numbers()
    db.session.add(Accessory(kind=AccessoryKind.SIM_CARD, status=AccessoryStatus.IN_STOCK,
                             **{**other, field: numbers[field]}))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("field,value,problem", [
    ("imei", "490154203237519", "check digit"),  # Luhn check digit off by one
    ("imei", "49015420323751", "15 digits"),
    ("iccid", "8933150319000123452", "check digit"),
    ("iccid", "1233150319000123451", "starts with 89"),
])
def test_a_mistyped_imei_or_iccid_is_refused_before_anything_is_written(orgs, users, db, field, value, problem):
    with pytest.raises(Invalid) as exc:
        dist.add_accessory(actor=actor(users, "technician"), kind="mobile_key", **{field: value})
    assert field in exc.value.details and problem in exc.value.details[field][0]
    assert db.session.query(Accessory).count() == 0


def test_a_returned_key_goes_into_a_new_kit_and_is_handed_over_again_with_its_chain(reboot, orgs, users, db):
    device = make_kit(orgs, users)
    key = next(a for a in dist.kit_of(device) if a.kind == AccessoryKind.MOBILE_KEY)
    first = hand_over(reboot, device, users, "EC-0001", kit_kind="family_kit")
    assert key.status == AccessoryStatus.WITH_BENEFICIARY and first.kit_complete is True
    dist.record_return(first.id, actor=actor(users, "coordinator"), reason="moved away")
    assert key.status == AccessoryStatus.RETURNED and key.device_id is None

    second_device = factories.make_device(orgs, users, State.READY)
    dist.put_in_kit(key.id, second_device.tag, actor=actor(users, "technician"))
    dist.add_accessory(actor=actor(users, "technician"), kind="charger", device_tag=second_device.tag)
    second = hand_over(reboot, second_device, users, "EC-0002", kit_kind="family_kit")
    assert second.kit_complete is True and key.id in [i.accessory_id for i in second.items]

    chain = accessory_events(key.id)
    assert [e.type for e in chain] == ["accessory_added", "accessory_handed_over", "accessory_returned",
                                       "accessory_put_in_kit", "accessory_handed_over"]
    statuses = [(json.loads(e.details)["status_before"], json.loads(e.details)["status_after"]) for e in chain]
    assert statuses == [(None, "in_kit"), ("in_kit", "with_beneficiary"), ("with_beneficiary", "returned"),
                        ("returned", "in_kit"), ("in_kit", "with_beneficiary")]
    assert json.loads(chain[-1].details)["device_tag"] == second_device.tag
    assert [e.seq for e in chain] == sorted(e.seq for e in chain)
    assert verify_chain().ok


def test_a_key_in_a_beneficiarys_hands_cannot_go_into_another_kit(reboot, orgs, users):
    device = make_kit(orgs, users)
    key = next(a for a in dist.kit_of(device) if a.kind == AccessoryKind.MOBILE_KEY)
    hand_over(reboot, device, users, "EC-0003", kit_kind="family_kit")
    other = factories.make_device(orgs, users, State.READY)
    with pytest.raises(Conflict) as exc:
        dist.put_in_kit(key.id, other.tag, actor=actor(users, "technician"))
    assert exc.value.code == "accessory_transition_refused"


def test_a_kit_handed_over_and_returned_in_part_records_the_missing_parts(reboot, orgs, users):
    device = make_kit(orgs, users, parts=("mobile_key",))  # no charger
    handover = hand_over(reboot, device, users, "EC-0004", kit_kind="family_kit")
    assert handover.kit_complete is False and handover.missing_parts == ["charger"]
    key = handover.items[0].accessory
    dist.record_return(handover.id, actor=actor(users, "coordinator"), reason="end of loan",
                       missing_accessory_ids=[key.id])
    assert key.status == AccessoryStatus.LOST
    assert [e.type for e in accessory_events(key.id)][-1] == "accessory_lost"


def test_a_kit_reserved_in_part_records_what_it_lacks_and_is_completed_at_the_hand_over(reboot, orgs, users):
    device = make_kit(orgs, users, parts=("charger",))
    dist.reserve_device(device.tag, actor=actor(users, "coordinator"), programme_id=reboot.id,
                        kit_kind="family_kit")
    assert json.loads(device_events(device.id)[-1].details)["missing_parts"] == ["mobile_key"]
    handover = dist.record_handover(device.tag, actor=actor(users, "coordinator"), beneficiary_ref="EC-0005",
                                    beneficiary_category="family",
                                    new_accessories=[{"kind": "mobile_key", **factories.key_numbers()}],
                                    **handing_over())
    assert handover.kit_kind.code == "family_kit" and handover.kit_complete is True and handover.missing_parts == []


# ---------------------------------------------------------------- targets and their progress


def test_progress_of_a_two_target_programme_after_hand_overs_of_laptops_and_kits(reboot, orgs, users, db):
    for n in range(3):  # three laptops handed over alone
        hand_over(reboot, factories.make_device(orgs, users, State.READY), users, f"EC-10{n}")
    for n in range(2):  # two complete family kits (a laptop and a desktop)
        hand_over(reboot, make_kit(orgs, users, type=("laptop", "desktop")[n]), users, f"EC-20{n}",
                  kit_kind="family_kit")
    hand_over(reboot, make_kit(orgs, users, parts=("mobile_key",)), users, "EC-300", kit_kind="family_kit")
    # A tablet counts for neither target; a returned laptop still counts (the beneficiary was equipped).
    hand_over(reboot, factories.make_device(orgs, users, State.READY, type="tablet"), users, "EC-400")
    returned = db.session.query(Handover).filter_by(beneficiary_ref="EC-100").one()
    dist.record_return(returned.id, actor=actor(users, "coordinator"), reason="moved away")
    # A replacement for the same beneficiary does not count twice.
    hand_over(reboot, factories.make_device(orgs, users, State.READY), users, "EC-100")
    dist.reserve_device(factories.make_device(orgs, users, State.READY).tag, actor=actor(users, "coordinator"),
                        programme_id=reboot.id)

    targets = {t["unit"]: t for t in dist.progress(reboot)["targets"]}
    assert (targets["laptop"]["count"], targets["laptop"]["done"], targets["laptop"]["reserved"]) == (1000, 3, 1)
    assert (targets["family_kit"]["count"], targets["family_kit"]["done"]) == (2000, 2)
    assert targets["laptop"]["percent"] == 0.3 and targets["family_kit"]["percent"] == 0.1
    assert targets["family_kit"]["label"] == "Kit famille"


def test_a_hand_over_outside_the_programme_period_does_not_count(reboot, orgs, users, db):
    h = hand_over(reboot, factories.make_device(orgs, users, State.READY), users, "EC-0500")
    reboot.starts_on = h.handed_over_on + dt.timedelta(days=1)
    db.session.commit()
    assert {t["unit"]: t["done"] for t in dist.progress(reboot)["targets"]} == {"laptop": 0, "family_kit": 0}


def test_targets_are_replaced_and_a_unit_must_be_a_device_type_or_a_kit_kind(reboot, users):
    with pytest.raises(Invalid):
        dist.set_targets(reboot.id, actor=actor(users, "admin"), targets=[{"unit": "school_bag", "count": 5}])
    p = dist.set_targets(reboot.id, actor=actor(users, "admin"),
                         targets=[{"unit": "family_kit", "count": 2500}, {"unit": "tablet", "count": 50}])
    assert [(t.unit, t.count) for t in p.targets] == [("family_kit", 2500), ("tablet", 50)]


# ---------------------------------------------------------------- the coordinator's stock


def test_the_coordinators_stock_never_shows_another_partners_reservations(reboot, orgs, users, db):
    laptops = [factories.make_device(orgs, users, State.READY) for _ in range(3)]
    kits = [make_kit(orgs, users) for _ in range(2)]
    # Collège Maria Casarès (partner_b) reserves a laptop and a kit.
    dist.reserve_device(laptops[0].tag, actor=actor(users, "coordinator_b"), programme_id=reboot.id)
    dist.reserve_device(kits[0].tag, actor=actor(users, "coordinator_b"), programme_id=reboot.id,
                        kit_kind="family_kit")
    stock = dist.coordinator_stock(actor=actor(users, "coordinator"))
    assert stock["programmes"] == [{"id": orgs["programme"].id, "name": "Collégiens 2026"},
                                   {"id": reboot.id, "name": "Reboot' 2027"}]
    assert stock["devices"] == [{"type": "laptop", "grade": "B", "count": 3}]  # 2 alone + 1 kit, all ready
    assert [(k["kit_kind"], k["type"], k["grade"], k["count"]) for k in stock["kits"]] == [
        ("family_kit", "laptop", "B", 1)]
    text = json.dumps(stock, default=str)
    for secret in (laptops[0].tag, kits[0].tag, orgs["partner_b"].name, "reservation"):
        assert secret not in text
    # It reserves from these counts: the other partner's devices are never taken.
    taken = dist.reserve_bulk(actor=actor(users, "coordinator"), programme_id=reboot.id, count=1,
                              kit_kind="family_kit", grades=["B"])
    assert [r.device_id for r in taken] == [kits[1].id] and taken[0].kit_kind_id is not None
    with pytest.raises(Conflict):
        dist.reserve_bulk(actor=actor(users, "coordinator"), programme_id=reboot.id, count=1,
                          kit_kind="family_kit")


def test_a_partner_of_no_programme_sees_no_stock(reboot, orgs, users, db):
    factories.make_device(orgs, users, State.READY)
    reboot.partners = [orgs["partner_b"]]
    orgs["programme"].partners = [orgs["partner_b"]]
    db.session.commit()
    assert dist.coordinator_stock(actor=actor(users, "coordinator")) == {"programmes": [], "devices": [], "kits": []}


# ---------------------------------------------------------------- a second device for the same beneficiary


@pytest.mark.parametrize("policy", ["allow", "warn", "refuse"])
def test_the_second_device_policy_compares_keyed_hashes_at_hand_over(reboot, orgs, users, db, policy):
    dist.set_targets(reboot.id, actor=actor(users, "admin"), targets=[{"unit": "laptop", "count": 10}],
                     beneficiary_policy=policy)
    first = hand_over(reboot, factories.make_device(orgs, users, State.READY), users, "EC-7777")
    second = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(second.tag, actor=actor(users, "coordinator"), programme_id=reboot.id)
    again = dict(actor=actor(users, "coordinator"), beneficiary_ref="EC-7777", beneficiary_category="pupil")
    if policy == "allow":
        dist.record_handover(second.tag, **again, **handing_over())
    elif policy == "warn":
        assert dist.second_device_to_confirm(second.tag, "EC-7777", actor=actor(users, "coordinator"),
                                             hmac_key=handing_over()["hmac_key"])
        with pytest.raises(Conflict) as exc:
            dist.record_handover(second.tag, **again, **handing_over())
        assert exc.value.code == "second_device_confirm"
        assert db.session.query(Handover).count() == 1
        h = dist.record_handover(second.tag, confirm_second_device=True, **again, **handing_over())
        event = json.loads(device_events(second.id)[-1].details)
        assert event["second_device"] == {"policy": "warn", "open_handover_ids": [first.id]}
        assert "EC-7777" not in json.dumps(event)  # only the keyed hash travels
        assert h.beneficiary_ref_hmac == first.beneficiary_ref_hmac
    else:
        with pytest.raises(Conflict) as exc:
            dist.record_handover(second.tag, confirm_second_device=True, **again, **handing_over())
        assert exc.value.code == "second_device_refused"
        assert db.session.query(Handover).count() == 1
        # Once the first device is back, the same beneficiary may receive one again.
        dist.record_return(first.id, actor=actor(users, "coordinator"), reason="broken screen")
        dist.record_handover(second.tag, **again, **handing_over())
    # Another partner's reference that happens to be the same code is another person.
    other = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(other.tag, actor=actor(users, "coordinator_b"), programme_id=reboot.id)
    dist.record_handover(other.tag, actor=actor(users, "coordinator_b"), beneficiary_ref="EC-7777",
                         beneficiary_category="pupil", **handing_over())


def test_the_plan_ending_reminder_warns_the_partner_thirty_days_before(reboot, orgs, users, db, app):
    from asset_tracker.reminders.models import Reminder
    from asset_tracker.reminders.rules import current_rules
    from asset_tracker.reminders.services import open_reminders, simulate

    device = factories.make_device(orgs, users, State.READY)
    dist.add_accessory(actor=actor(users, "technician"), kind="mobile_key", device_tag=device.tag,
                       operator="Bouygues Telecom", plan_ends_on=utcnow().date() + dt.timedelta(days=45),
                       **factories.key_numbers())
    dist.add_accessory(actor=actor(users, "technician"), kind="charger", device_tag=device.tag)
    hand_over(reboot, device, users, "EC-0900", kit_kind="family_kit")
    rules = [r for r in current_rules() if r.id == "data_plan_ending"]
    now = utcnow()
    assert open_reminders(rules, now + dt.timedelta(days=10)) == 0  # 35 days before the end
    # 25 days before the end
    mails = simulate(now + dt.timedelta(days=20), settings=MailSettings.of(current_app.config))
    mail = next(m for m in mails if m["organisation"] == orgs["partner"].name)
    assert device.tag in mail["text"] and "data_plan_ending" not in mail["text"]
    assert (utcnow().date() + dt.timedelta(days=45)).isoformat() in mail["text"]
    assert db.session.query(Reminder).count() == 0  # the simulation wrote nothing
    assert open_reminders(rules, now + dt.timedelta(days=20)) == 1
    reminder = db.session.query(Reminder).one()
    assert reminder.responsible_organisation_id == orgs["partner"].id
