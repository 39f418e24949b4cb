"""Development (make run): SQLite in instance/, scheduler in-process."""
SCHEDULER_ENABLED = True
