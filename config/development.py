"""Development (make run): SQLite in instance/, scheduler in-process."""
SCHEDULER_ENABLED = True
# No mail server on a development machine: reminder mails are written to the log instead.
MAIL_SERVER = None
