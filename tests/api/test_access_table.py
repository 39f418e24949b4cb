"""Authorisation from the outside: every route has a rule, and every rule is enforced."""
import re

import pytest

from asset_tracker.auth.access import AUTHENTICATED, BUILTIN_RULES, PUBLIC, rule_for

# Writes an auditor may make: their own session and language, nothing else.
AUDITOR_WRITES = {"auth.logout", "auth.set_language", "auth.login"}


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
            assert resp.status_code in (401, 403), (method, r.rule, resp.status_code)
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("role", ["donor", "coordinator", "technician"])
def test_admin_only_routes_refuse_other_roles(app, client, api_headers, role):
    for path, method in [("/api/v1/users", "GET"), ("/api/v1/users", "POST"), ("/api/v1/organisations", "POST"),
                         ("/api/v1/tokens", "POST")]:
        resp = client.open(path, method=method, headers=api_headers(role), json={})
        assert resp.status_code == 403, (role, path)
        assert resp.json["error"]["code"] == "forbidden"


def test_an_unknown_route_is_a_404_envelope(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ["donor", "coordinator", "technician", "auditor"])
def test_metrics_exist_only_for_the_scraper_token_and_admins(app, client, api_headers, role):
    # /metrics is declared PUBLIC so that the scraper's token (METRICS_TOKEN) works without a user; the view
    # itself answers 404 to anyone else, as for an object out of scope.
    assert rule_for(app, "ops.metrics_page") == {PUBLIC}
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=api_headers(role)).status_code == 404
    assert client.get("/metrics", headers=api_headers("admin")).status_code == 200
