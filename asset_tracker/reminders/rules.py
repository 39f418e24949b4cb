"""Reminder rules from configuration: validated at start-up, then read as frozen `Rule` objects."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flask import current_app

from ..lifecycle import N_, TERMINAL, State

PARTIES = ("donor", "workshop", "partner", "programme_owner")
KEYS = {"id", "state", "days", "responsible", "escalate_days", "escalate_to", "loan", "plan_end", "label"}
ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")

# What each default rule is about, shown on pages and in e-mails (translated where shown).
LABELS = {
    "registered_not_collected": N_("Registered, not collected"),
    "collected_not_received": N_("Collected, not received (custody risk)"),
    "received_not_wiped": N_("Received, not wiped (data risk)"),
    "diagnosed_not_wiped": N_("Diagnosed, not wiped (data risk)"),
    "wiped_not_refurbished": N_("Wiped, not refurbished or recycled"),
    "ready_not_reserved": N_("Ready, not reserved (stock ageing)"),
    "reserved_not_handed_over": N_("Reserved, not handed over"),
    "loan_overdue": N_("Loan past its expected return date"),
    "returned_not_received": N_("Returned, not received"),
    "data_plan_ending": N_("4G data plan handed over with a kit ends soon"),
}
PARTY_LABELS = {
    "donor": N_("donor"),
    "workshop": N_("workshop"),
    "partner": N_("partner"),
    "programme_owner": N_("programme owner"),
}


class RuleError(ValueError):
    """A reminder rule in configuration is wrong; the message names it."""


@dataclass(frozen=True)
class Rule:
    id: str
    state: State
    days: int
    responsible: str
    escalate_days: int | None
    escalate_to: str
    loan: bool = False
    label: str = ""
    # Counts back from the end of the data plan of a key handed over with the device: `days` before it ends.
    plan_end: bool = False

    def overdue_since(self, device_state_since: dt.datetime, expected_return_on: dt.date | None) -> dt.datetime:
        """When a device of this rule became overdue."""
        if self.loan:
            start = dt.datetime.combine(expected_return_on, dt.time(), dt.UTC) + dt.timedelta(days=1)
            return start + dt.timedelta(days=self.days)
        return device_state_since + dt.timedelta(days=self.days)

    def days_overdue(self, now: dt.datetime, device_state_since: dt.datetime, expected_return_on) -> int | None:
        """Whole days overdue, the first (partial) day counting as one (None for a plan-ending warning)."""
        if self.plan_end:
            return None
        if self.loan and expected_return_on is None:
            return 0
        late = now - self.overdue_since(device_state_since, expected_return_on)
        return max(1, -(-late // dt.timedelta(days=1)))


def parse_rules(raw: list[dict]) -> list[Rule]:
    """Check every rule and return them; a bad rule raises RuleError naming it and what is wrong."""
    if not isinstance(raw, (list, tuple)):
        raise RuleError("REMINDER_RULES must be a list of rules")
    rules, seen = [], set()
    for position, item in enumerate(raw, 1):
        rules.append(_parse_rule(item, position, seen))
    return rules


def _parse_rule(item, position: int, seen: set) -> Rule:
    name = item.get("id") if isinstance(item, dict) else None
    where = f"reminder rule {name!r}" if name else f"reminder rule #{position}"

    def bad(problem: str):
        raise RuleError(f"{where}: {problem}")

    _check_identity(item, name, seen, bad)
    state = _rule_state(item, bad)
    days, responsible, escalate_days, escalate_to = _rule_timing(item, bad)
    loan, plan_end = _rule_kind(item, state, escalate_days, bad)
    label = item.get("label") or LABELS.get(name) or name
    return Rule(name, state, days, responsible, escalate_days, escalate_to, loan, label, plan_end)


def _check_identity(item, name, seen: set, bad) -> None:
    """A dict of known keys with a well-formed id used once."""
    if not isinstance(item, dict):
        bad("must be a dict")
    unknown = set(item) - KEYS
    if unknown:
        bad(f"unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(KEYS))})")
    if not isinstance(name, str) or not ID_RE.match(name):
        bad("needs an id of lower-case letters, digits and _ (2-64 characters)")
    if name in seen:
        bad("the id is used twice")
    seen.add(name)


def _rule_state(item: dict, bad) -> State:
    try:
        state = State(item.get("state"))
    except ValueError:
        bad(f"unknown state {item.get('state')!r} (states: {', '.join(s.value for s in State)})")
    if state in TERMINAL:
        bad(f"state {state.value!r} is terminal: a device never leaves it, so it cannot be overdue")
    return state


def _rule_timing(item: dict, bad) -> tuple[int, str, int | None, str]:
    """Days, who is reminded, and when and to whom the reminder escalates."""
    days = item.get("days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        bad(f"days must be a whole number >= 0, not {days!r}")
    responsible = item.get("responsible")
    if responsible not in PARTIES:
        bad(f"responsible must be one of {', '.join(PARTIES)}, not {responsible!r}")
    escalate_days = item.get("escalate_days")
    if escalate_days is not None:
        if isinstance(escalate_days, bool) or not isinstance(escalate_days, int) or escalate_days <= days:
            bad(f"escalate_days must be a whole number greater than days ({days}), or None; not {escalate_days!r}")
    escalate_to = item.get("escalate_to", "programme_owner")
    if escalate_to not in PARTIES:
        bad(f"escalate_to must be one of {', '.join(PARTIES)}, not {escalate_to!r}")
    return days, responsible, escalate_days, escalate_to


def _rule_kind(item: dict, state: State, escalate_days: int | None, bad) -> tuple[bool, bool]:
    """A loan rule or a plan-ending rule, each only for handed-over devices."""
    loan = item.get("loan", False)
    if not isinstance(loan, bool):
        bad(f"loan must be True or False, not {loan!r}")
    if loan and state is not State.HANDED_OVER:
        bad("a loan rule counts from the expected return date and applies only to state 'handed_over'")
    plan_end = item.get("plan_end", False)
    if not isinstance(plan_end, bool):
        bad(f"plan_end must be True or False, not {plan_end!r}")
    if plan_end and (state is not State.HANDED_OVER or loan or escalate_days is not None):
        bad("a plan_end rule counts back from a data plan's end: state 'handed_over', no loan, no escalation")
    return loan, plan_end


def rules_of(app) -> list[Rule]:
    """The app's rules, parsed once (config is checked at start-up, see `check_config`)."""
    cached = app.extensions.get("reminder_rules")
    if cached is None or cached[0] is not app.config["REMINDER_RULES"]:
        cached = (app.config["REMINDER_RULES"], parse_rules(app.config["REMINDER_RULES"]))
        app.extensions["reminder_rules"] = cached
    return cached[1]


def check_config(app) -> None:
    """Stop the start with a message naming the bad rule."""
    try:
        rules_of(app)
    except RuleError as exc:
        raise RuntimeError(f"invalid configuration: {exc}") from None


def current_rules() -> list[Rule]:
    """The rules parsed from the application's REMINDER_RULES (checked at start-up by ``check_config``)."""
    return rules_of(current_app)


def rule_by_id(rule_id: str) -> Rule | None:
    return next((r for r in current_rules() if r.id == rule_id), None)
