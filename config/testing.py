"""Test runs: in-memory-friendly settings; tests override the database URL."""
TESTING = True
SECRET_KEY = "testing-secret"
WTF_CSRF_ENABLED = True
LOGIN_RATE_LIMIT = "5 per minute"
SCHEDULER_ENABLED = False
# Fast hashing in tests only (hundreds of users are created); the scheme itself is tested separately.
PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
# Dashboard figures are recomputed on every request in tests (the cache is tested on its own).
REPORTS_CACHE_SECONDS = 0
# No device is drawn for the second-person wipe check unless a test asks for it (share 1.0): the draw hashes the
# reception time, so a default share would gate a random few devices of unrelated tests at `ready`.
WIPE_VERIFICATION_SHARE = 0.0
