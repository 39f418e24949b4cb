"""Reminder rules (SPEC defaults): a device staying in `state` longer than `days` is overdue.

Keys: id (lower-case, unique), state, days, responsible, escalate_days (None or more than days), escalate_to,
optional loan (True: counts from the expected return date; only for handed_over), plan_end (True: warns `days`
before the data plan of a 4G key or SIM card handed over with a kit ends; only for handed_over, no escalation)
and label (shown text).
responsible / escalate_to: "donor", "workshop" (the one holding the device, else the batch's, else the first
workshop), "partner" or "programme_owner" (of the device's programme, else the first programme-owner
organisation); when a party is unknown the programme owner is told. Checked at start-up
(asset_tracker/reminders/rules.py): a bad rule stops the start with a message naming it.
"""

REMINDER_RULES = [
    {"id": "registered_not_collected", "state": "registered", "days": 21, "responsible": "workshop",
     "escalate_days": None, "escalate_to": "programme_owner"},
    {"id": "collected_not_received", "state": "collected", "days": 3, "responsible": "workshop",
     "escalate_days": 7, "escalate_to": "programme_owner"},
    {"id": "received_not_wiped", "state": "received", "days": 7, "responsible": "workshop",
     "escalate_days": 14, "escalate_to": "programme_owner"},
    {"id": "diagnosed_not_wiped", "state": "diagnosed", "days": 7, "responsible": "workshop",
     "escalate_days": 14, "escalate_to": "programme_owner"},
    {"id": "wiped_not_refurbished", "state": "wiped", "days": 21, "responsible": "workshop",
     "escalate_days": None, "escalate_to": "programme_owner"},
    {"id": "ready_not_reserved", "state": "ready", "days": 60, "responsible": "programme_owner",
     "escalate_days": None, "escalate_to": "programme_owner"},
    {"id": "reserved_not_handed_over", "state": "reserved", "days": 14, "responsible": "partner",
     "escalate_days": 28, "escalate_to": "programme_owner"},
    {"id": "loan_overdue", "state": "handed_over", "days": 0, "responsible": "partner", "loan": True,
     "escalate_days": 30, "escalate_to": "programme_owner"},
    {"id": "returned_not_received", "state": "returned", "days": 7, "responsible": "partner",
     "escalate_days": 14, "escalate_to": "programme_owner"},
    {"id": "data_plan_ending", "state": "handed_over", "days": 30, "responsible": "partner", "plan_end": True,
     "escalate_days": None, "escalate_to": "programme_owner"},
]
