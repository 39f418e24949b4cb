"""Authorisation from the outside: every route has a rule, and every rule is enforced."""
import io
import re

import pytest

from asset_tracker.auth.access import AUTHENTICATED, BUILTIN_RULES, PUBLIC, rule_for
from tests import factories, scope_world

# Writes an auditor may make: their own session, password, language and API tokens, nothing else.
AUDITOR_WRITES = {"auth.logout", "auth.set_language", "auth.login", "auth.change_password",
                  "api_users.revoke_token"}


def _routes(app):
    for rule in app.url_map.iter_rules():
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        yield rule, methods


def _sample_url(rule) -> str:
    url = rule.rule
    url = re.sub(r"<int:[^>]+>", "1", url)
    url = re.sub(r"<path:[^>]+>", "x/y", url)
    url = re.sub(r"<[^>]+>", "RB-000001-1", url)
    return url


def test_every_route_declares_who_may_call_it(app):
    missing = [r.endpoint for r, _ in _routes(app)
               if r.endpoint not in BUILTIN_RULES and rule_for(app, r.endpoint) is None]
    assert missing == [], f"routes without an access rule: {missing}"


def test_every_rule_names_known_roles(app):
    from asset_tracker.auth.access import ROLES

    for r, _ in _routes(app):
        rule = BUILTIN_RULES.get(r.endpoint) or rule_for(app, r.endpoint)
        assert rule <= set(ROLES) | {PUBLIC, AUTHENTICATED}, r.endpoint


def test_anonymous_callers_are_turned_away_from_every_private_route(app, client):
    checked = 0
    for r, methods in _routes(app):
        rule = BUILTIN_RULES.get(r.endpoint) or rule_for(app, r.endpoint)
        if PUBLIC in rule:
            continue
        for method in methods:
            resp = client.open(_sample_url(r), method=method)
            if r.rule.startswith("/api/"):
                assert resp.status_code == 401, (method, r.rule, resp.status_code)
                assert resp.json["error"]["code"] == "unauthorized"
            else:
                assert resp.status_code == 302, (method, r.rule, resp.status_code)
                if resp.status_code == 302:
                    assert "/login" in resp.headers["Location"]
            checked += 1
    assert checked > 10


def test_an_auditor_is_refused_every_write(app, client, api_headers):
    headers = api_headers("auditor")
    checked = 0
    for r, methods in _routes(app):
        for method in methods:
            if method == "GET" or r.endpoint in AUDITOR_WRITES:
                continue
            rule = BUILTIN_RULES.get(r.endpoint) or rule_for(app, r.endpoint)
            assert "auditor" not in rule and AUTHENTICATED not in rule and PUBLIC not in rule, \
                f"{method} {r.rule} lets an auditor write"
            resp = client.open(_sample_url(r), method=method, headers=headers, json={})
            assert resp.status_code == 403, (method, r.rule, resp.status_code)
            checked += 1
    assert checked >= 5


# The administration pages (asset_tracker/admin): admins only.
ADMIN_PAGES = [("/admin/users", "GET"), ("/admin/users", "POST"), ("/admin/users/1/active", "POST"),
               ("/admin/users/1/password", "POST"), ("/admin/organisations", "GET"), ("/admin/organisations", "POST"),
               ("/admin/organisations/1", "GET"), ("/admin/organisations/1", "POST"), ("/admin/tokens", "GET"),
               ("/admin/tokens", "POST"), ("/admin/tokens/1/revoke", "POST"), ("/admin/partners", "GET"),
               ("/admin/programmes/1/partners", "POST"), ("/admin/programmes/1/partners/1/remove", "POST")]


def test_every_admin_page_is_in_the_admin_table(app):
    rules = {(r.rule.replace("<int:user_id>", "1").replace("<int:organisation_id>", "1")
              .replace("<int:token_id>", "1").replace("<int:programme_id>", "1"), m)
             for r, methods in _routes(app) if r.endpoint.startswith("admin.") for m in methods}
    assert rules == set(ADMIN_PAGES)
    assert all(rule_for(app, r.endpoint) == {"admin"} for r, _ in _routes(app) if r.endpoint.startswith("admin."))


@pytest.mark.parametrize("role", ["donor", "coordinator", "technician"])
def test_admin_only_routes_refuse_other_roles(app, client, api_headers, role):
    for path, method in [("/api/v1/users", "GET"), ("/api/v1/users", "POST"), ("/api/v1/organisations", "POST"),
                         ("/api/v1/organisations/1", "GET"), ("/api/v1/organisations/1", "PATCH"),
                         ("/api/v1/tokens", "POST")] + ADMIN_PAGES:
        resp = client.open(path, method=method, headers=api_headers(role), json={})
        assert resp.status_code == 403, (role, path)
        if path.startswith("/api/"):
            assert resp.json["error"]["code"] == "forbidden"


def test_an_unknown_route_is_a_404_envelope(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


# ---------------------------------------------------------------- two organisations of every kind


# Valid bodies, so that the answer depends on the object in the path, not on a missing field.
API_BODIES = {
    "api_devices.transition": lambda v: {"json": {"target": "diagnosed", "verdict": "refurbish"}},
    "api_batches.import_devices": lambda v: {"data": {"file": (io.BytesIO(b"type;serial\nlaptop;SCOPE0001\n"),
                                                                "lot.csv")}, "content_type": "multipart/form-data"},
    "api_batches.receive": lambda v: {"json": {"code": v["tag"]}},
    "api_batches.explain": lambda v: {"json": {"tag": v["batch_device"], "note": "not on the van"}},
    "api_wiping.add_medium": lambda v: {"json": {"kind": "ssd", "serial": "SCOPEDISK1"}},
    "api_wiping.add_record": lambda v: {"json": {
        "medium_id": v["medium_id"], "result": "passed", "nist_category": "clear", "method": "Fill With Zeros",
        "verification": "last pass", "ended_at": "2026-03-02T09:15:00+01:00"}},
    "api_wiping.add_destruction": lambda v: {"json": {"medium_id": v["medium_id"], "method": "shred",
                                                      "destroyed_at": "2026-03-02T09:15:00+01:00"}},
    "api_wiping.verify": lambda v: {"json": {"confirmed": True}},
    "api_distribution.record_return": lambda v: {"json": {"reason": "end of the school year"}},
    # PATCH needs at least one field (an empty one is refused 422 whoever asks, before any look-up).
    "api_devices.update_device": lambda v: {"json": {"notes": "checked"}},
    "api_batches.update_batch": lambda v: {"json": {"notes": "checked"}},
    "api_wiping.update_medium": lambda v: {"json": {"model": "checked"}},
    "api_reminders.acknowledge": lambda v: {"json": {"note": "called the partner"}},
}


def _probe(rule, methods, values, send) -> list[tuple]:
    """Call every method of ``rule`` with the URL built from ``values``; (method, url, status) each."""
    out = []
    for method in methods:
        url = scope_world.url_for_side(rule, values)
        out.append((method, url, send(method, url, rule.endpoint, values).status_code))
    return out


def _cases(app, role: str, prefix: str, skip_prefix: str | None = None):
    """Routes under ``prefix`` open to ``role`` that take the id or tag of an organisation's object."""
    for rule, methods in _routes(app):
        params = scope_world.id_params(rule)
        if not rule.rule.startswith(prefix) or not params:
            continue
        if skip_prefix and rule.rule.startswith(skip_prefix):
            continue
        if role not in (BUILTIN_RULES.get(rule.endpoint) or rule_for(app, rule.endpoint)):
            continue
        if any((role, p) in scope_world.NOT_SCOPED and role == "technician" for p in params):
            continue  # the object is shared by every organisation of that kind
        yield rule, methods, params


def check_two_organisations(app, world, role, own, other, send, prefix, expect_own_get, skip_prefix=None):
    """Every route, every method: the other side's objects answer 404, one's own are found."""
    mine, theirs = world[own], world[other]
    wrong, checked = [], 0
    for rule, methods, params in _cases(app, role, prefix, skip_prefix):
        # The other side's objects, all at once and one parameter at a time (own tag, their medium…).
        variants = [theirs] + ([{**mine, scope_world.ID_PARAMS[p]: theirs[scope_world.ID_PARAMS[p]]}
                                for p in params] if len(params) > 1 else [])
        for values in variants:
            for method, url, status in _probe(rule, methods, values, send):
                checked += 1
                if status != 404:
                    wrong.append(("other", method, url, status))
    for rule, methods, params in _cases(app, role, prefix, skip_prefix):
        if any((role, p) in scope_world.NOT_SCOPED for p in params):
            continue
        for method, url, status in _probe(rule, methods, mine, send):
            checked += 1
            if method == "GET" and status != expect_own_get(rule):
                wrong.append(("own", method, url, status))
            elif method != "GET" and status in (403, 404):
                wrong.append(("own", method, url, status))
    return wrong, checked


@pytest.mark.parametrize("own, other", [("A", "B"), ("B", "A")])
@pytest.mark.parametrize("role", ["donor", "technician", "coordinator"])
def test_every_api_route_with_an_id_answers_404_for_another_organisations_object(app, client, orgs, users, role,
                                                                                 own, other):
    world = scope_world.build(orgs, users)
    headers = {"Authorization": f"Bearer {factories.token_for(world['users'][role][own])}"}

    def send(method, url, endpoint, values):
        body = API_BODIES[endpoint](values) if endpoint in API_BODIES else {"json": {}}
        return client.open(url, method=method, headers=headers, **body)

    wrong, checked = check_two_organisations(app, world, role, own, other, send, "/api/", lambda rule: 200)
    assert wrong == [], "\n".join(map(str, wrong))
    assert checked >= 10


# Routes of kits, 4G keys, stock and reminders: who may call them (the rest answer 403).
KIT_ROUTES = [
    ("GET", "/api/v1/stock", {"admin", "auditor", "technician", "coordinator"}),
    ("GET", "/api/v1/accessories", {"admin", "auditor", "technician", "coordinator"}),
    ("POST", "/api/v1/accessories/1/kit", {"admin", "technician"}),
    ("POST", "/api/v1/accessories/1/take-out", {"admin", "technician"}),
    ("POST", "/api/v1/accessories/1/lost", {"admin", "technician", "coordinator"}),
    ("PUT", "/api/v1/programmes/1/targets", {"admin"}),
    ("GET", "/api/v1/reminders", {"admin", "auditor", "technician", "coordinator", "donor"}),
    ("POST", "/api/v1/reminders/1/acknowledge", {"admin", "technician", "coordinator", "donor"}),
]


@pytest.mark.parametrize("method,path,allowed", KIT_ROUTES)
@pytest.mark.parametrize("role", ["donor", "technician", "coordinator", "auditor", "admin"])
def test_kit_stock_and_reminder_routes_follow_the_access_table(client, api_headers, method, path, allowed, role):
    resp = client.open(path, method=method, headers=api_headers(role), json={})
    if role in allowed:
        assert resp.status_code != 403, (role, method, path)
    else:
        assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden", (role, method, path)

@pytest.mark.parametrize("own, other", [("A", "B"), ("B", "A")])
@pytest.mark.parametrize("role", ["donor", "technician", "coordinator"])
def test_lists_and_exports_show_only_ones_own_organisations_objects(client, orgs, users, role, own, other):
    world = scope_world.build(orgs, users)
    headers = {"Authorization": f"Bearer {factories.token_for(world['users'][role][own])}"}
    lists = ["/api/v1/devices?per_page=100", "/api/v1/audit/devices.csv", "/api/v1/audit/events.jsonl",
             "/api/v1/audit/wipes.csv"]
    if role != "coordinator":
        lists.append("/api/v1/batches")
    mine, theirs = world[own]["tag"], world[other]
    for path in lists:
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, path
        body = resp.get_data(as_text=True)
        assert not [t for t in theirs["devices"] if t in body], path
        if path.startswith("/api/v1/devices") or path.startswith("/api/v1/audit/devices"):
            assert mine in body, path
    if role != "coordinator":
        ids = {b["id"] for b in client.get("/api/v1/batches", headers=headers).get_json()}
        assert world[own]["batch_id"] in ids and theirs["batch_id"] not in ids


@pytest.mark.parametrize("role", ["donor", "coordinator", "technician", "auditor"])
def test_metrics_exist_only_for_the_scraper_token_and_admins(app, client, api_headers, role):
    # /metrics is declared PUBLIC so that the scraper's token (METRICS_TOKEN) works without a user; the view
    # itself answers 404 to anyone else, as for an object out of scope.
    assert rule_for(app, "ops.metrics_page") == {PUBLIC}
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=api_headers(role)).status_code == 404
    assert client.get("/metrics", headers=api_headers("admin")).status_code == 200
