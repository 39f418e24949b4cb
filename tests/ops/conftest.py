"""Fixtures of the operations tests."""
from tests.audit_support import signing_key  # noqa: F401  (fixture)
