"""Reminders: overdue steps found on schedule, one digest per organisation and day, escalation."""
