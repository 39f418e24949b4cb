"""Imports every capability's models so metadata (and Alembic) sees the whole schema."""
from .capabilities import modules

for _module in modules("models"):
    pass

from .idempotency import IdempotencyKey  # noqa: E402,F401
