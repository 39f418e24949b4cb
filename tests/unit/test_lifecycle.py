"""The lifecycle table and its guards, walked pair by pair."""
import itertools

import pytest

from asset_tracker import lifecycle
from asset_tracker.lifecycle import Facts, State, TransitionRefused

SPEC_TRANSITIONS = {
    ("registered", "collected"), ("collected", "received"), ("received", "diagnosed"), ("received", "wiped"),
    ("diagnosed", "wiped"), ("wiped", "diagnosed"), ("wiped", "refurbished"), ("wiped", "recycled"),
    ("refurbished", "ready"), ("refurbished", "diagnosed"), ("ready", "reserved"), ("reserved", "handed_over"),
    ("reserved", "ready"), ("handed_over", "returned"), ("returned", "received"), ("lost", "received"),
} | {(s.value, "lost") for s in State if s not in (State.RECYCLED, State.LOST)}

# Facts that satisfy every guard of the target state.
PASSING = {
    State.DIAGNOSED: Facts(verdict="refurbish"),
    State.WIPED: Facts(media_count=2, media_cleared=2),
    State.REFURBISHED: Facts(verdict="refurbish"),
    State.READY: Facts(verdict="refurbish", grade="B"),
    State.RESERVED: Facts(programme_id=1, partner_id=2),
    State.HANDED_OVER: Facts(beneficiary_ref="MC-0001"),
    State.RECYCLED: Facts(verdict="parts", recycler_id=3),
    State.LOST: Facts(reason="stolen from the van"),
}


def test_transition_table_is_exactly_the_spec():
    table = {(a.value, b.value) for a, targets in lifecycle.TRANSITIONS.items() for b in targets}
    assert table == SPEC_TRANSITIONS


@pytest.mark.parametrize("source,target", list(itertools.product(State, State)))
def test_every_pair_of_states(source, target):
    facts = PASSING.get(target, Facts())
    if (source.value, target.value) in SPEC_TRANSITIONS:
        lifecycle.check_transition(source, target, facts)  # allowed when its guard holds
        if target in lifecycle.GUARDS:
            with pytest.raises(TransitionRefused):  # and refused when it does not
                lifecycle.check_transition(source, target, Facts())
    else:
        with pytest.raises(TransitionRefused) as exc:
            lifecycle.check_transition(source, target, facts)
        refusal = exc.value.refusal
        assert refusal.code in ("transition_not_allowed", "terminal_state", "same_state")
        assert str(exc.value)  # a reason a person can read


def test_refusal_names_the_allowed_next_steps():
    with pytest.raises(TransitionRefused) as exc:
        lifecycle.check_transition(State.REGISTERED, State.READY, Facts(verdict="refurbish", grade="A"))
    assert "collected" in str(exc.value) and "lost" in str(exc.value)


@pytest.mark.parametrize("facts,code", [
    (Facts(media_count=0), "wipe_evidence_missing"),
    (Facts(media_count=2, media_cleared=1), "wipe_evidence_missing"),
])
def test_wipe_guard_needs_every_medium_or_a_no_media_statement(facts, code):
    with pytest.raises(TransitionRefused) as exc:
        lifecycle.check_transition(State.RECEIVED, State.WIPED, facts)
    assert exc.value.refusal.code == code
    lifecycle.check_transition(State.RECEIVED, State.WIPED, Facts(media_count=0, no_media_statement=True))


def test_two_media_one_wiped_says_how_many_are_missing():
    with pytest.raises(TransitionRefused) as exc:
        lifecycle.check_transition(State.DIAGNOSED, State.WIPED, Facts(media_count=2, media_cleared=1))
    assert "1 of 2" in str(exc.value)


def test_recycling_needs_a_recycle_verdict_and_a_recycler():
    with pytest.raises(TransitionRefused) as exc:
        lifecycle.check_transition(State.WIPED, State.RECYCLED, Facts(verdict="refurbish", recycler_id=1))
    assert exc.value.refusal.code == "verdict_not_recycle"
    with pytest.raises(TransitionRefused) as exc:
        lifecycle.check_transition(State.WIPED, State.RECYCLED, Facts(verdict="recycle"))
    assert exc.value.refusal.code == "recycler_required"


def test_a_loan_needs_a_future_return_date():
    import datetime as dt

    today = dt.date(2026, 11, 29)
    with pytest.raises(TransitionRefused) as exc:
        lifecycle.check_transition(State.RESERVED, State.HANDED_OVER,
                                   Facts(beneficiary_ref="X-1", loan=True, today=today))
    assert exc.value.refusal.code == "return_date_required"
    with pytest.raises(TransitionRefused):
        lifecycle.check_transition(State.RESERVED, State.HANDED_OVER,
                                   Facts(beneficiary_ref="X-1", loan=True, expected_return_on=today, today=today))
    lifecycle.check_transition(State.RESERVED, State.HANDED_OVER, Facts(
        beneficiary_ref="X-1", loan=True, expected_return_on=today + dt.timedelta(days=30), today=today))


def test_recycled_is_terminal():
    for target in State:
        with pytest.raises(TransitionRefused):
            lifecycle.check_transition(State.RECYCLED, target, PASSING.get(target, Facts()))


def test_every_state_has_french_and_english_labels_and_a_colour():
    for state in State:
        assert lifecycle.LABELS[state]["fr"] and lifecycle.LABELS[state]["en"]
        bg, fg = lifecycle.COLOURS[state]
        assert _contrast(bg, fg) >= 4.5, f"{state} badge contrast too low"


def _contrast(a: str, b: str) -> float:
    def lum(hex_colour):
        rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
