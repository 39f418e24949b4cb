"""Schemathesis against the API's own OpenAPI description, through the WSGI app: no 5xx, documented statuses,
response bodies matching their schemas (docs/api.md, "Fuzzing").

Bounded: FUZZ_EXAMPLES generated requests per operation (10 by default; FUZZ_EXAMPLES=200 for a longer hunt),
derandomised so CI is reproducible. Skipped on PostgreSQL runs (TEST_DATABASE_URL): the SQLite run covers it.
"""
import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import make_device

pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                                reason="the fuzzing run is made on SQLite only (CI time)")

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# Token routes would revoke or mint the fuzzer's own credentials: destructive, tested by hand (test_sessions.py).
EXCLUDED = re.compile(r"^/api/v1/tokens")


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation, read from an app built only to describe itself."""
    from asset_tracker import create_app

    spec = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://").test_client().get("/api/v1/openapi.json").json
    return [(method.upper(), path) for path, item in sorted(spec["paths"].items()) if not EXCLUDED.match(path)
            for method in item if method in ("get", "post", "put", "patch", "delete")]


@pytest.fixture
def fuzz_headers(orgs, users, api_headers):
    # A little of everything for the generated requests to find: devices along the lifecycle.
    for state in ("registered", "received", "diagnosed", "ready"):
        make_device(orgs, users, state)
    return {**api_headers("admin"), "Accept-Language": "en"}


_SCHEMAS = {}


def _schema(app):
    if id(app) not in _SCHEMAS:  # built once per run: the description does not change between tests
        _SCHEMAS[id(app)] = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return _SCHEMAS[id(app)]


@pytest.mark.parametrize("method,path", _operations())
def test_the_api_answers_every_generated_request_as_documented(app, fuzz_headers, method, path):
    operation = _schema(app)[path][method]
    # Valid requests and invalid ones (wrong types, out-of-range values, missing fields), mixed.
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        case.call_and_validate(headers=fuzz_headers, checks=CHECKS)

    answers_as_documented()
