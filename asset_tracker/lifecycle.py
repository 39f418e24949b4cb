"""The device lifecycle as data: states, transitions, guards, labels and colours. Pure: no Flask, no DB."""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass, field


def N_(message: str) -> str:
    """Mark a message for translation; it is translated where it is shown."""
    return message


class State(str, enum.Enum):
    REGISTERED = "registered"
    COLLECTED = "collected"
    RECEIVED = "received"
    DIAGNOSED = "diagnosed"
    WIPED = "wiped"
    REFURBISHED = "refurbished"
    READY = "ready"
    RESERVED = "reserved"
    HANDED_OVER = "handed_over"
    RETURNED = "returned"
    RECYCLED = "recycled"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value


class Verdict(str, enum.Enum):
    REFURBISH = "refurbish"
    PARTS = "parts"
    RECYCLE = "recycle"


class Grade(str, enum.Enum):
    A = "A"
    B = "B"
    C = "C"


S = State

TRANSITIONS: dict[State, frozenset[State]] = {
    S.REGISTERED: frozenset({S.COLLECTED}),
    S.COLLECTED: frozenset({S.RECEIVED}),
    S.RECEIVED: frozenset({S.DIAGNOSED, S.WIPED}),
    S.DIAGNOSED: frozenset({S.WIPED}),
    S.WIPED: frozenset({S.DIAGNOSED, S.REFURBISHED, S.RECYCLED}),
    S.REFURBISHED: frozenset({S.READY, S.DIAGNOSED}),
    S.READY: frozenset({S.RESERVED}),
    S.RESERVED: frozenset({S.HANDED_OVER, S.READY}),
    S.HANDED_OVER: frozenset({S.RETURNED}),
    S.RETURNED: frozenset({S.RECEIVED}),
    S.RECYCLED: frozenset(),
    S.LOST: frozenset({S.RECEIVED}),
}
TERMINAL = frozenset({S.RECYCLED})
# Every non-terminal state may be declared lost.
for _state in State:
    if _state not in TERMINAL and _state is not S.LOST:
        TRANSITIONS[_state] = TRANSITIONS[_state] | {S.LOST}

IN_WORKSHOP = frozenset({S.RECEIVED, S.DIAGNOSED, S.WIPED, S.REFURBISHED, S.READY, S.RESERVED})
NEEDS_WIPE = frozenset({S.RECEIVED, S.DIAGNOSED})
WITH_PARTNER = frozenset({S.HANDED_OVER, S.RETURNED})
AT_DONOR = frozenset({S.REGISTERED})
IN_TRANSIT = frozenset({S.COLLECTED, S.RETURNED})
OPEN_STATES = frozenset(State) - TERMINAL

# Labels in French and English, and a colour per state (background, text) with AA contrast.
LABELS: dict[State, dict[str, str]] = {
    S.REGISTERED: {"fr": "Enregistré", "en": "Registered"},
    S.COLLECTED: {"fr": "Collecté", "en": "Collected"},
    S.RECEIVED: {"fr": "Reçu à l'atelier", "en": "Received"},
    S.DIAGNOSED: {"fr": "Diagnostiqué", "en": "Diagnosed"},
    S.WIPED: {"fr": "Effacé", "en": "Wiped"},
    S.REFURBISHED: {"fr": "Reconditionné", "en": "Refurbished"},
    S.READY: {"fr": "Prêt", "en": "Ready"},
    S.RESERVED: {"fr": "Réservé", "en": "Reserved"},
    S.HANDED_OVER: {"fr": "Remis", "en": "Handed over"},
    S.RETURNED: {"fr": "Restitué", "en": "Returned"},
    S.RECYCLED: {"fr": "Recyclé", "en": "Recycled"},
    S.LOST: {"fr": "Perdu", "en": "Lost"},
}
COLOURS: dict[State, tuple[str, str]] = {
    S.REGISTERED: ("#E8EAF0", "#1F2A44"),
    S.COLLECTED: ("#DCEBFA", "#0B3D6B"),
    S.RECEIVED: ("#D4F0F0", "#0B4F4F"),
    S.DIAGNOSED: ("#FFF1C9", "#5C4100"),
    S.WIPED: ("#E3DBF7", "#3B2377"),
    S.REFURBISHED: ("#D9F2DF", "#14532D"),
    S.READY: ("#1E7A3C", "#FFFFFF"),
    S.RESERVED: ("#FDE2CF", "#7A2E00"),
    S.HANDED_OVER: ("#1D4E89", "#FFFFFF"),
    S.RETURNED: ("#FBD5E5", "#7A1240"),
    S.RECYCLED: ("#4A4A4A", "#FFFFFF"),
    S.LOST: ("#B3261E", "#FFFFFF"),
}
# Verbs for buttons ("Mark as wiped").
ACTION_LABELS: dict[State, dict[str, str]] = {
    S.COLLECTED: {"fr": "Marquer collecté", "en": "Mark collected"},
    S.RECEIVED: {"fr": "Réceptionner", "en": "Receive"},
    S.DIAGNOSED: {"fr": "Diagnostiquer", "en": "Diagnose"},
    S.WIPED: {"fr": "Valider l'effacement", "en": "Confirm wiped"},
    S.REFURBISHED: {"fr": "Marquer reconditionné", "en": "Mark refurbished"},
    S.READY: {"fr": "Contrôle qualité OK", "en": "Pass quality check"},
    S.RESERVED: {"fr": "Réserver", "en": "Reserve"},
    S.HANDED_OVER: {"fr": "Remettre au bénéficiaire", "en": "Hand over"},
    S.RETURNED: {"fr": "Enregistrer le retour", "en": "Record return"},
    S.RECYCLED: {"fr": "Envoyer au recyclage", "en": "Send to recycling"},
    S.LOST: {"fr": "Déclarer perdu", "en": "Declare lost"},
}


def label(state: State | str, locale: str = "fr") -> str:
    return LABELS[State(state)].get(locale[:2], LABELS[State(state)]["en"])


@dataclass(frozen=True)
class Facts:
    """What the guards may look at: the device as it would be after the step, plus the step's inputs."""

    verdict: str | None = None
    grade: str | None = None
    media_count: int = 0
    media_cleared: int = 0  # media with a passing wipe or destruction record since the last entry into received
    no_media_statement: bool = False  # a technician stated "no storage media" since the last entry into received
    media_unverified: int = 0  # media whose passing overwrite was never read back (only those, not counted above)
    wipe_check: str | None = None  # the second-person check of this wipe cycle: pending, confirmed, failed or None
    programme_id: int | None = None
    partner_id: int | None = None
    beneficiary_ref: str | None = None
    loan: bool = False
    expected_return_on: dt.date | None = None
    recycler_id: int | None = None
    reason: str | None = None
    today: dt.date | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str  # English msgid, %(name)s placeholders
    params: dict = field(default_factory=dict)


Guard = Callable[[Facts], "Refusal | None"]


def wipe_evidence_complete(f: Facts) -> Refusal | None:
    if f.media_count == 0:
        if f.no_media_statement:
            return None
        return Refusal("wipe_evidence_missing", N_(
            "No storage media is recorded for this device: add its disks and their wipe records, "
            "or record a \"no storage media\" statement."))
    if f.media_cleared < f.media_count and f.media_unverified:
        return Refusal("wipe_not_verified", N_(
            "%(unverified)s of %(total)s storage media were overwritten without verification (nwipe --verify=off): "
            "NIST SP 800-88 asks for the overwrite to be read back. Wipe them again with verification."),
            {"unverified": f.media_unverified, "total": f.media_count})
    if f.media_cleared < f.media_count:
        return Refusal("wipe_evidence_missing", N_(
            "%(missing)s of %(total)s storage media have no passing wipe or destruction record since the "
            "device was last received."), {"missing": f.media_count - f.media_cleared, "total": f.media_count})
    return None


def second_check_passed(f: Facts) -> Refusal | None:
    if f.wipe_check == "pending":
        return Refusal("wipe_check_pending", N_(
            "This device was drawn for a second-person check of its wipe: another technician must confirm it "
            "before it is ready."))
    if f.wipe_check == "failed":
        return Refusal("wipe_check_failed", N_(
            "The second-person check refused this device's wipe: wipe it again before it is ready."))
    return None


def verdict_given(f: Facts) -> Refusal | None:
    if f.verdict not in {v.value for v in Verdict}:
        return Refusal("verdict_required", N_("A diagnosis needs a verdict: refurbish, parts or recycle."))
    return None


def verdict_is_refurbish(f: Facts) -> Refusal | None:
    if f.verdict != Verdict.REFURBISH.value:
        return Refusal("verdict_not_refurbish", N_(
            "Only a device diagnosed \"refurbish\" can be refurbished or made ready (its verdict is %(verdict)s)."),
            {"verdict": f.verdict or "—"})
    return None


def verdict_allows_recycling(f: Facts) -> Refusal | None:
    if f.verdict not in (Verdict.PARTS.value, Verdict.RECYCLE.value):
        return Refusal("verdict_not_recycle", N_(
            "Only a device diagnosed \"parts\" or \"recycle\" can be recycled (its verdict is %(verdict)s)."),
            {"verdict": f.verdict or "—"})
    return None


def recycler_named(f: Facts) -> Refusal | None:
    if not f.recycler_id:
        return Refusal("recycler_required", N_("Recycling needs the recycler organisation that takes the device."))
    return None


def grade_given(f: Facts) -> Refusal | None:
    if f.grade not in {g.value for g in Grade}:
        return Refusal("grade_required", N_("A device is ready only with a grade: A, B or C."))
    return None


def programme_and_partner_given(f: Facts) -> Refusal | None:
    if not f.programme_id or not f.partner_id:
        return Refusal("reservation_incomplete", N_("A reservation needs a programme and a partner organisation."))
    return None


def beneficiary_reference_given(f: Facts) -> Refusal | None:
    if not (f.beneficiary_ref or "").strip():
        return Refusal("beneficiary_required", N_("A hand-over needs the beneficiary's pseudonymous reference."))
    return None


def loan_has_return_date(f: Facts) -> Refusal | None:
    if f.loan and not f.expected_return_on:
        return Refusal("return_date_required", N_("A loan needs an expected return date."))
    if f.loan and f.today and f.expected_return_on and f.expected_return_on <= f.today:
        return Refusal("return_date_past", N_("The expected return date of a loan must be in the future."))
    return None


def reason_given(f: Facts) -> Refusal | None:
    if not (f.reason or "").strip():
        return Refusal("reason_required", N_("Declaring a device lost needs a reason."))
    return None


# Guards by target state; every transition into that state must pass them all.
GUARDS: dict[State, tuple[Guard, ...]] = {
    S.DIAGNOSED: (verdict_given,),
    S.WIPED: (wipe_evidence_complete,),
    S.REFURBISHED: (verdict_is_refurbish,),
    S.READY: (verdict_is_refurbish, grade_given, second_check_passed),
    S.RESERVED: (programme_and_partner_given,),
    S.HANDED_OVER: (beneficiary_reference_given, loan_has_return_date),
    S.RECYCLED: (verdict_allows_recycling, recycler_named),
    S.LOST: (reason_given,),
}

# Which roles may move a device into each state (admins may do everything).
ROLES_FOR: dict[State, frozenset[str]] = {
    S.COLLECTED: frozenset({"technician"}),
    S.RECEIVED: frozenset({"technician"}),
    S.DIAGNOSED: frozenset({"technician"}),
    S.WIPED: frozenset({"technician"}),
    S.REFURBISHED: frozenset({"technician"}),
    S.READY: frozenset({"technician", "coordinator"}),  # coordinator: cancelling a reservation
    S.RESERVED: frozenset({"technician", "coordinator"}),
    S.HANDED_OVER: frozenset({"coordinator"}),
    S.RETURNED: frozenset({"coordinator"}),
    S.RECYCLED: frozenset({"technician"}),
    S.LOST: frozenset({"technician", "coordinator", "donor"}),
}

# What each step asks the person for, so pages can build the right form.
INPUTS: dict[State, tuple[str, ...]] = {
    S.DIAGNOSED: ("verdict",),
    S.READY: ("grade",),
    S.RESERVED: ("programme_id", "partner_organisation_id"),
    S.HANDED_OVER: ("beneficiary_ref", "beneficiary_category", "loan", "expected_return_on"),
    S.RECYCLED: ("recycler_organisation_id", "disposal_reference"),
    S.LOST: ("reason",),
}


class TransitionRefused(Exception):
    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message % refusal.params if refusal.params else refusal.message)
        self.refusal = refusal


def is_allowed(source: State, target: State) -> bool:
    return target in TRANSITIONS[State(source)]


def refusal_for(source: State, target: State, facts: Facts) -> Refusal | None:
    """Why ``source -> target`` is refused for these facts, or None when it is allowed."""
    source, target = State(source), State(target)
    if source == target:
        return Refusal("same_state", N_("The device is already %(state)s."), {"state": source.value})
    if target not in TRANSITIONS[source]:
        if source in TERMINAL:
            return Refusal("terminal_state", N_("A %(source)s device cannot change state any more."),
                            {"source": source.value})
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[source])) or "—"
        return Refusal("transition_not_allowed", N_(
            "A %(source)s device cannot go to %(target)s; allowed next steps: %(allowed)s."),
            {"source": source.value, "target": target.value, "allowed": allowed})
    for guard in GUARDS.get(target, ()):
        refusal = guard(facts)
        if refusal:
            return refusal
    return None


def check_transition(source: State, target: State, facts: Facts) -> None:
    refusal = refusal_for(source, target, facts)
    if refusal:
        raise TransitionRefused(refusal)


def next_states(source: State) -> list[State]:
    """Allowed next states in lifecycle order (for buttons)."""
    order = list(State)
    return sorted(TRANSITIONS[State(source)], key=order.index)
