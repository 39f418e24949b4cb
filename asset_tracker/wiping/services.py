"""Wiping verbs, re-exported from the modules that hold them so other capabilities import one place.

media: storage media; evidence: evidence files; records: wipe and destruction records and the waiting list;
imports: nwipe logs and CSV files; checks: the second-person check; certificate_data: what certificates state.
"""
from .certificate_data import (  # noqa: F401
    DeviceEvidence,
    batch_wipe_summary,
    certificate_for_batch,
    certificate_for_device,
    chain_head,
    device_evidence,
    record_events,
)
from .checks import (  # noqa: F401
    current_verification,
    draw_score,
    on_wiped,
    pending_verifications,
    pending_verifications_query,
    pick_for_verification,
    verify_wipe,
)
from .evidence import (  # noqa: F401
    get_evidence,
    store_evidence,
)
from .imports import (  # noqa: F401
    _UNIT_READINGS,
    PROBLEMS,
    SIZE_TOLERANCE,
    CsvImport,
    DiskPlan,
    NwipePlan,
    _adopt_identity,
    _already_recorded,
    _candidates,
    _check_identity,
    _disk_result,
    _local,
    _mark_used,
    _parse_logs,
    _rank,
    _verification_text,
    csv_row_fingerprint,
    import_nwipe,
    import_wipe_csv,
    log_zone,
    mismatch_text,
    plan_nwipe_import,
    sizes_agree,
)
from .media import (  # noqa: F401
    DESTRUCTION_METHODS,
    MEDIA_EDITABLE_STATES,
    MEDIUM_FIELDS,
    RECORDABLE_STATES,
    _check_serial_free,
    _editable_device,
    _medium_of,
    _medium_view,
    _normal_serial,
    add_medium,
    remove_medium,
    update_medium,
)
from .records import (  # noqa: F401
    NOT_VERIFIED,
    _add_record,
    _aware,
    _refuse_second_use,
    latest_wipes,
    not_verified,
    record_destruction,
    record_manual_wipe,
    record_wipe,
    state_no_media,
    waiting_for_wipe,
    waiting_query,
    wipe_records,
)
