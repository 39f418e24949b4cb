"""Imports every model so metadata (and Alembic) sees the whole schema."""
from .organisations.models import Organisation  # noqa: F401
from .auth.models import ApiToken, User  # noqa: F401
from .intake.models import Batch  # noqa: F401
from .assignment.models import Programme, programme_partners  # noqa: F401
from .devices.models import Device, StorageMedium, TagCounter  # noqa: F401
from .wiping.models import EvidenceFile, WipeRecord  # noqa: F401
from .custody.models import ChainHead, CustodyEvent  # noqa: F401
from .idempotency import IdempotencyKey  # noqa: F401
