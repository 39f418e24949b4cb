"""The access table on pages: two donors, two workshops and two partners, every page taking an id or tag."""
from __future__ import annotations

import io

import pytest

from tests import scope_world
from tests.api.test_access_table import check_two_organisations
from tests.conftest import csrf_token

# Valid forms, so that the answer depends on the object in the path, not on a missing field.
FORMS = {
    "devices.transition": lambda v: {"target": "diagnosed", "verdict": "refurbish"},
    "intake.import_file": lambda v: {"file": (io.BytesIO(b"type;serial\nlaptop;SCOPE0002\n"), "lot.csv")},
    "intake.receive": lambda v: {"code": v["tag"]},
    "intake.explain": lambda v: {"tag": v["batch_device"], "note": "not on the van"},
    "intake.device_new": lambda v: {"type": "laptop", "serial": "SCOPE0003"},
    "wiping.add_medium": lambda v: {"kind": "ssd", "serial": "SCOPEDISK2"},
    "wiping.update_medium": lambda v: {"kind": "hdd"},
    "wiping.add_record": lambda v: {"medium_id": v["medium_id"], "result": "passed", "nist_category": "clear",
                                    "method": "Fill With Zeros", "verification": "last pass",
                                    "ended_at": "2026-03-02T09:15"},
    "wiping.add_destruction": lambda v: {"medium_id": v["medium_id"], "method": "shred",
                                         "destroyed_at": "2026-03-02T09:15"},
    "wiping.verify": lambda v: {"confirmed": "1"},
    "distribution.record_return": lambda v: {"reason": "end of the school year"},
    "distribution.handover": lambda v: {"beneficiary_ref": "MC-0001", "beneficiary_category": "pupil", "loan": "gift"},
    "reminders.acknowledge": lambda v: {"note": "on it"},
    "labels.print_device": lambda v: {"template": "a4-3x7-63x38"},
    "labels.print_batch": lambda v: {"template": "a4-3x7-63x38"},
    "labels.print_blank": lambda v: {"template": "a4-3x7-63x38"},
}


def own_page_status(rule) -> int:
    # The side's device is already handed over: its hand-over form sends the coordinator back to it.
    return 302 if rule.endpoint == "distribution.handover_form" else 200


@pytest.mark.parametrize("own, other", [("A", "B"), ("B", "A")])
@pytest.mark.parametrize("role", ["donor", "technician", "coordinator"])
def test_every_page_with_an_id_answers_404_for_another_organisations_object(app, client, orgs, users, login, role,
                                                                            own, other):
    world = scope_world.build(orgs, users)
    login(world["users"][role][own])
    token = csrf_token(client, "/devices")

    def send(method, url, endpoint, values):
        if method == "GET":
            return client.get(url)
        form = {"csrf_token": token, **(FORMS[endpoint](values) if endpoint in FORMS else {})}
        return client.post(url, data=form, content_type="multipart/form-data")

    wrong, checked = check_two_organisations(app, world, role, own, other, send, "/", own_page_status,
                                             skip_prefix="/api/")
    assert wrong == [], "\n".join(map(str, wrong))
    assert checked >= 5
