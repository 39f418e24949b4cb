"""Every configuration key with its default; environment files and ASSET_TRACKER_* variables override them."""
import os

# A checkout (pyproject.toml beside config/) keeps its database and keys in <checkout>/instance; an installed package
# keeps them in ./instance of the directory it is started from, and reads its bundled labels and migrations.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHECKOUT = os.path.isfile(os.path.join(_ROOT, "pyproject.toml"))
_INSTANCE = os.path.join(_ROOT if _CHECKOUT else os.getcwd(), "instance")

# Signs session cookies and CSRF tokens; production.py refuses to start without one.
SECRET_KEY = "dev-only-secret-change-me"
# Database URL: sqlite:///path.db or postgresql+psycopg://user@host/db; DATABASE_URL wins.
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(_INSTANCE, "asset_tracker.db")
# Extra engine options (pool size, etc.).
SQLALCHEMY_ENGINE_OPTIONS = {}
# Milliseconds SQLite waits for a write lock before giving up (then the request answers 503 + Retry-After).
SQLITE_BUSY_TIMEOUT_MS = 15000
# Seconds a client is told to wait (Retry-After) when the database stayed locked for the busy timeout.
BUSY_RETRY_AFTER_SECONDS = 2
# Asset tag prefix (letters/digits, starting with a letter) and the zero-padded width of its sequence.
TAG_PREFIX = "RB"
TAG_WIDTH = 6
# Default interface language and the languages offered.
BABEL_DEFAULT_LOCALE = "fr"
LANGUAGES = ["fr", "en"]
BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
# A scanning station stays open all day: CSRF tokens live as long as the session (no time limit).
WTF_CSRF_TIME_LIMIT = None
# A signed-in session ends after this many minutes without a request (a workshop station left alone)...
SESSION_IDLE_MINUTES = 120
# ...and this many hours after sign-in whatever the activity (one workshop day); the cookie lives an hour more.
SESSION_MAX_HOURS = 12
# Shortest password accepted, in characters.
PASSWORD_MIN_LENGTH = 10
# Least zxcvbn strength score (0-4) a new password needs; 3 means "safely unguessable" against offline attacks.
PASSWORD_MIN_SCORE = 3
# Days an API token lives from its issue (a new one is issued before it ends).
TOKEN_LIFETIME_DAYS = 365
# Password hashing scheme (werkzeug): scrypt, memory-hard.
PASSWORD_HASH_METHOD = "scrypt"
# Login attempts allowed per client address.
LOGIN_RATE_LIMIT = "10 per minute"
# Storage for rate-limit counters ("memory://" is per process; use redis:// with several workers).
RATELIMIT_STORAGE_URI = "memory://"
# Largest accepted upload, in bytes (imports, wipe logs).
MAX_CONTENT_LENGTH = 20 * 1024 * 1024
# Most devices one collection batch may hold (a donor's hand-over; larger donations are split into
# batches). Every batch page, slip and batch-wide write is measured at this size (docs/benchmarks.md).
BATCH_MAX_DEVICES = 10_000
# Most rows of one import file (a file fills one batch, so never more than BATCH_MAX_DEVICES).
IMPORT_MAX_ROWS = 10_000
# XLSX files are zip archives: refuse one whose directory announces more than this once expanded,
# or a member expanding more than XLSX_MAX_RATIO times (a real sheet is 5-30x; a bomb is 1,000x+).
XLSX_MAX_UNCOMPRESSED = 64 * 1024 * 1024
XLSX_MAX_RATIO = 100
# Crash tests only: an import creates this file once its rows are written, then waits before committing.
IMPORT_BARRIER_FILE = None

# Deepest nesting of arrays/objects accepted in a JSON body (deeper: 400, before any parsing).
JSON_MAX_DEPTH = 32
# Page size of lists and API collections, and its ceiling.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# How long a client-made scan/import id is remembered for retries, in days.
IDEMPOTENCY_DAYS = 30
# Session cookie hardening.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False
# API documentation (flask-smorest).
API_TITLE = "Reboot Tracker API"
API_VERSION = "v1"
OPENAPI_VERSION = "3.0.3"
OPENAPI_URL_PREFIX = "/api/v1"
OPENAPI_JSON_PATH = "openapi.json"
# Run the reminder scheduler inside this process (make run); production runs it as its own process.
SCHEDULER_ENABLED = False
# Public base URL used in e-mails.
BASE_URL = "http://127.0.0.1:5000"
# Key of the HMAC-SHA256 that the custody chain keeps instead of a beneficiary reference; production must set its own.
BENEFICIARY_HMAC_KEY = "dev-only-beneficiary-key-change-me"
# Days after a device's return before its beneficiary reference is erased by the nightly job.
BENEFICIARY_REF_RETENTION_DAYS = 90
# Beneficiary reference pattern for partners that configured none (a code, never a name).
BENEFICIARY_REF_DEFAULT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_./-]{2,39}$"
# Overdue rules used by reminders and the "overdue" filter (see config/reminders.py).
from config.reminders import REMINDER_RULES  # noqa: E402, F401

# Outgoing mail (reminder digests and escalations) over SMTP.
MAIL_SERVER = "localhost"  # empty: mails are written to the log instead of sent
# SMTP port (25 plain, 587 with MAIL_USE_TLS, 465 with MAIL_USE_SSL).
MAIL_PORT = 25
# Upgrade the connection with STARTTLS.
MAIL_USE_TLS = False
# Connect with implicit TLS (SMTPS).
MAIL_USE_SSL = False
# SMTP login, when the server needs one.
MAIL_USERNAME = None
# SMTP password (set it through ASSET_TRACKER_MAIL_PASSWORD, never in a file).
MAIL_PASSWORD = None
# The From address of every mail.
MAIL_DEFAULT_SENDER = "Reboot Tracker <no-reply@localhost>"
# Seconds to wait for the SMTP server before the send counts as failed (retried on a later sweep).
MAIL_TIMEOUT = 30
# Minutes between two reminder sweeps.
REMINDERS_SWEEP_MINUTES = 5
# Seconds a standby scheduler waits before trying again to become the active one.
REMINDERS_LOCK_RETRY_SECONDS = 30
# A failed reminder mail is retried on later sweeps up to this many attempts.
REMINDERS_MAIL_MAX_ATTEMPTS = 20
# Devices listed in one digest; the rest are counted with a link to the overdue page.
REMINDERS_DIGEST_MAX_LINES = 500
# Share of wiped devices picked for a second technician's check of the wipe (0.05 = 1 in 20).
WIPE_VERIFICATION_SHARE = 0.05
# Seed of that draw: the pick is a hash of tag, wipe cycle and seed, reproducible by an auditor.
WIPE_VERIFICATION_SEED = "reboot-wipe-check"
# An overwrite nobody read back (nwipe --verify=off) does not satisfy the `wiped` guard: NIST SP 800-88 Rev. 1 (4.7)
# makes verification part of sanitisation. True accepts it (certified "not verified"); see docs/wiping.md.
WIPE_ACCEPT_UNVERIFIED = False
# Time zone nwipe logs and wipe CSVs are read in by default (nwipe writes the wiping station's local time without a
# zone); each import may choose another.
WIPE_LOG_TIMEZONE = "Europe/Paris"
# Time zones the import pages offer (the default first); boot-USB wiping systems often keep their clock in UTC.
WIPE_LOG_TIMEZONES = ["Europe/Paris", "UTC", "Europe/London", "America/Martinique", "Indian/Reunion"]
# Confidentiality of the data on donated media before sanitisation (NIST SP 800-88 Appendix G "pre-sanitisation
# confidentiality"): low, moderate or high; per donor organisation name, else the default.
WIPE_CONFIDENTIALITY_DEFAULT = "moderate"
# Per donor organisation (its name) when it differs from the default, e.g. {"CAF du Rhône": "high"}.
WIPE_CONFIDENTIALITY_BY_DONOR = {}
# Directory of the label templates, one JSON file each; a malformed file is refused (logged, shown to admins), the
# others stay usable.
LABEL_TEMPLATE_DIR = (
    os.path.join(_ROOT, "labels") if _CHECKOUT else os.path.join(_ROOT, "asset_tracker", "_data", "labels")
)
# Short line under the tag: "type_model" (device type in the printing user's language, brand and model) or
# "programme" (the programme's name; type and model until the device is reserved).
LABEL_LINE = "type_model"
# Template offered first on the print forms.
LABEL_DEFAULT_TEMPLATE = "a4-3x7-63x38"
# Most labels in one print job, and most blank tags in one issued range.
LABEL_MAX_PER_JOB = 5000
# Ed25519 private key (PEM) that signs the daily custody checkpoints; kept OUTSIDE the database and its backups
# (an attacker who can rewrite the database must not be able to re-sign). `flask audit keygen` creates it (mode 0600)
# and its public key next to it (<name>.pub.pem), which auditors download.
AUDIT_SIGNING_KEY_PATH = os.path.join(_INSTANCE, "audit_signing_key.pem")
# Rows fetched per round trip by streamed exports (key-set pages: memory stays flat whatever the size).
EXPORT_CHUNK_ROWS = 5000
# Seconds the dashboard's figures are reused before they are computed again (0: always fresh).
REPORTS_CACHE_SECONDS = 60
# Pages of 20,000 custody events the dashboard folds into its stays table before drawing (the job does the rest).
REPORTS_REFRESH_BATCHES = 5
# Weeks of throughput shown on the dashboard.
REPORTS_WEEKS = 12
# Estimated environmental benefit of one device reused instead of a new one bought (dashboard "estimate").
# CO2e: ADEME, "Évaluation de l'impact environnemental d'un ensemble de produits reconditionnés" (September 2022):
# a refurbished laptop avoids about 27 kg CO2e per year of use, a refurbished smartphone 24.6 kg CO2e per year.
# Types without a figure from that study are left out (None) rather than guessed.
REPORTS_CO2E_KG_PER_YEAR = {"laptop": 27.0, "phone": 24.6, "desktop": None, "tablet": None, "monitor": None,
                            "other": None}
# Years of second life assumed per reused device (an assumption of this deployment, not an ADEME figure).
REPORTS_SECOND_LIFE_YEARS = 3
# E-waste avoided: typical mass in kg of a device kept out of the waste stream (an assumption: typical catalogue
# masses, not weighed; set your own measured averages).
REPORTS_DEVICE_MASS_KG = {"laptop": 2.0, "desktop": 8.0, "tablet": 0.5, "phone": 0.2, "monitor": 4.5, "other": 1.0}
# Reverse proxies in front of the app (nginx: 1). When above 0, the client address, scheme and host come from the
# last N X-Forwarded-For/-Proto/-Host entries (Werkzeug ProxyFix): logs, the login limit and redirects see the client.
TRUSTED_PROXIES = 0
# Log lines: "text" (the server's format) or "json" (one JSON object a line, with the request id and client address).
LOG_FORMAT = "text"
# Level of the application's logs when LOG_FORMAT is json.
LOG_LEVEL = "INFO"
# One log line per request (method, path, status, endpoint, duration, client address, request id) at INFO.
ACCESS_LOG = True
# Bearer token of the Prometheus scraper for GET /metrics (admins signed in may read it too; anyone else gets 404).
METRICS_TOKEN = None
