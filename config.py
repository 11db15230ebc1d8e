"""Settings for TaskFlow, read from TASKFLOW_* environment variables."""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"TASKFLOW_{name}", default)


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Base settings shared by every environment."""

    INSTANCE_DIR = Path(_env("INSTANCE_DIR", str(BASE_DIR / "instance")))
    # Signs sessions and CSRF tokens. Never a value written in the code: a published key lets
    # anyone forge a signed-in session (taskflow/core/security.py refuses known ones).
    SECRET_KEY = _env("SECRET_KEY")
    # When SECRET_KEY is not given: generate one on first run and keep it in
    # INSTANCE_DIR/secret_key (mode 600), shared by every process over that folder. Development
    # only: production sets TASKFLOW_SECRET_KEY, the same on every host (docs/deploy.md).
    SECRET_KEY_FROM_INSTANCE = False
    SQLALCHEMY_DATABASE_URI = _env(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'taskflow.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # SQLite: CLI commands and the scheduler begin their transactions IMMEDIATE (see core/db.py).
    SQLITE_IMMEDIATE_OUTSIDE_REQUESTS = True
    DATA_DIR = Path(_env("DATA_DIR", str(INSTANCE_DIR / "data")))
    # Where each area's .po catalogs are compiled to .mo at start (recompiled only when a .po
    # is newer). Processes over one checkout can share it; the test suite shares one per worker.
    CATALOG_BUILD_DIR = Path(_env("CATALOG_BUILD_DIR", str(INSTANCE_DIR / "translations")))
    SEEDS_DIR = Path(_env("SEEDS_DIR", str(BASE_DIR / "seeds")))
    ASSETS_DIR = Path(_env("ASSETS_DIR", str(BASE_DIR / "node_modules")))

    BABEL_DEFAULT_LOCALE = _env("DEFAULT_LOCALE", "zh_CN")
    BABEL_DEFAULT_TIMEZONE = _env("TIMEZONE", "Asia/Shanghai")
    LANGUAGES = ("zh_CN", "en")

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Cookies always get Secure over HTTPS (taskflow/core/security.py); this forces it over http too.
    SESSION_COOKIE_SECURE = _env_bool("COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    MAX_UPLOAD_MB = _env_int("MAX_UPLOAD_MB", 50)
    MAX_CONTENT_LENGTH = (MAX_UPLOAD_MB + 5) * 1024 * 1024
    ZIP_MAX_ENTRIES = _env_int("ZIP_MAX_ENTRIES", 200)
    ZIP_MAX_UNCOMPRESSED_MB = _env_int("ZIP_MAX_UNCOMPRESSED_MB", 200)
    # Evidence of one report: files and their total size (defaults, not set by the plan).
    REPORT_MAX_FILES = _env_int("REPORT_MAX_FILES", 20)
    REPORT_MAX_TOTAL_MB = _env_int("REPORT_MAX_TOTAL_MB", MAX_UPLOAD_MB)
    # Minutes after which the files of an interrupted upload (no committed row) are swept
    # (a default; see taskflow/core/storage.py UploadBatch).
    UPLOAD_ORPHAN_MINUTES = _env_int("UPLOAD_ORPHAN_MINUTES", 15)
    # An imported workbook is read streaming and refused at the first excess of these limits
    # (taskflow/core/spreadsheets.py ReadLimits). All are defaults, not set by any plan (默认值，
    # 可调整): a unit's list has 7 columns and a few thousand rows at most.
    ZIP_MAX_RATIO = _env_int("ZIP_MAX_RATIO", 100)  # per part larger than 1 MB
    ENTERPRISE_IMPORT_MAX_ROWS = _env_int("ENTERPRISE_IMPORT_MAX_ROWS", 50_000)
    # Largest enterprise list accepted, in MB (a default: the evidence file limit).
    ENTERPRISE_IMPORT_MAX_MB = _env_int("ENTERPRISE_IMPORT_MAX_MB", MAX_UPLOAD_MB)
    # Days an import preview nobody confirmed is kept before the scheduler drops it (a default).
    ENTERPRISE_IMPORT_KEEP_DAYS = _env_int("ENTERPRISE_IMPORT_KEEP_DAYS", 7)
    IMPORT_MAX_COLUMNS = _env_int("IMPORT_MAX_COLUMNS", 100)  # highest column holding a value
    IMPORT_MAX_CELLS_PER_ROW = _env_int("IMPORT_MAX_CELLS_PER_ROW", 1_000)  # empty ones too
    IMPORT_MAX_CELLS = _env_int("IMPORT_MAX_CELLS", 2_000_000)  # empty (formatted) ones too
    IMPORT_MAX_ROW_ELEMENTS = _env_int("IMPORT_MAX_ROW_ELEMENTS", 1_000_000)  # empty ones too
    IMPORT_MAX_SHARED_STRINGS = _env_int("IMPORT_MAX_SHARED_STRINGS", 500_000)
    IMPORT_MAX_SHARED_STRINGS_MB = _env_int("IMPORT_MAX_SHARED_STRINGS_MB", 20)
    IMPORT_MAX_PART_MB = _env_int("IMPORT_MAX_PART_MB", 100)  # uncompressed, any one part
    # Temporary files under DATA_DIR/imports and DATA_DIR/tmp older than this are a killed
    # worker's left-overs and are removed by the scheduler (a default).
    IMPORT_TEMP_MAX_AGE_HOURS = _env_int("IMPORT_TEMP_MAX_AGE_HOURS", 6)
    # The issuing unit printed under every export's title (制表单位). The plan documents name no
    # office: a labelled default (方案未规定，默认值), set per deployment.
    EXPORT_ISSUER = _env("EXPORT_ISSUER") or "区科技创新工作领导小组办公室"
    # A register export of more rows than this runs as a background job the user downloads from
    # 我的导出 when ready (a default); smaller ones stream in the request.
    EXPORT_BACKGROUND_ROWS = _env_int("EXPORT_BACKGROUND_ROWS", 20_000)
    # Days a finished background export is kept before the hourly sweep removes it (a default).
    EXPORT_KEEP_DAYS = _env_int("EXPORT_KEEP_DAYS", 7)

    LOGIN_MAX_FAILURES_PER_ACCOUNT = _env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    # Per IP (default, not set by law): far above the account limit, and only when the failures
    # name at least LOGIN_IP_MIN_DISTINCT_ACCOUNTS accounts (password spraying), so colleagues
    # behind the district's NAT mistyping their own passwords never lock each other out.
    LOGIN_MAX_FAILURES_PER_IP = _env_int("LOGIN_MAX_FAILURES_PER_IP", 100)
    LOGIN_IP_MIN_DISTINCT_ACCOUNTS = _env_int("LOGIN_IP_MIN_DISTINCT_ACCOUNTS", 10)
    LOGIN_THROTTLE_WINDOW_MINUTES = _env_int("LOGIN_THROTTLE_WINDOW_MINUTES", 15)
    PASSWORD_MIN_LENGTH = _env_int("PASSWORD_MIN_LENGTH", 10)
    # Roles that must sign in with a second factor (TOTP), comma-separated; "" for none. The
    # default is issue #12's policy (等保 level 3: two combined authentication techniques).
    TOTP_REQUIRED_ROLES = _env("TOTP_REQUIRED_ROLES", "office,supervisor,admin,leader")
    # The name authenticator apps show next to the account.
    TOTP_ISSUER = _env("TOTP_ISSUER", "TaskFlow")
    # Days a password is valid before a forced change at next sign-in; 0 = never expires.
    # 90 is a default (等保 asks for periodic change without naming a period).
    PASSWORD_MAX_AGE_DAYS = _env_int("PASSWORD_MAX_AGE_DAYS", 90)
    # A new password must differ from this many most recent ones (issue #12: the last 5).
    PASSWORD_HISTORY = _env_int("PASSWORD_HISTORY", 5)
    # Minutes between the password and the end of the sign-in's further steps (code, enrolment,
    # forced change) before it must start again (a default).
    SIGN_IN_STEPS_MINUTES = _env_int("SIGN_IN_STEPS_MINUTES", 10)
    SESSION_IDLE_MINUTES = _env_int("SESSION_IDLE_MINUTES", 120)
    SESSION_ABSOLUTE_HOURS = _env_int("SESSION_ABSOLUTE_HOURS", 12)

    LIGHT_YELLOW_WORKING_DAYS = _env_int("LIGHT_YELLOW_WORKING_DAYS", 5)
    LIGHT_YELLOW_POINTS = _env_int("LIGHT_YELLOW_POINTS", 10)
    LIGHT_RED_POINTS = _env_int("LIGHT_RED_POINTS", 30)
    # Expected-to-date (序时进度) of the enterprise indicators: "monthly" (default, completed
    # months) or "daily" (day of the year). Not set by the plan: a default (docs/measures.md).
    PROGRESS_MODE = _env("PROGRESS_MODE") or "monthly"

    # An empty variable means the default, as for the other texts below.
    SMTP_HOST = _env("SMTP_HOST") or "127.0.0.1"
    SMTP_PORT = _env_int("SMTP_PORT", 8025)
    MAIL_FROM = _env("MAIL_FROM") or "taskflow@qijiang.local"
    BASE_URL = _env("BASE_URL", "http://127.0.0.1:5000")
    WEBHOOK_URL = _env("WEBHOOK_URL")

    URGE_AFTER_WORKING_DAYS = _env_int("URGE_AFTER_WORKING_DAYS", 3)
    SUPERVISE_AFTER_WORKING_DAYS = _env_int("SUPERVISE_AFTER_WORKING_DAYS", 5)
    # Notices (taskflow/notices). Defaults, not set by the plan: a missing monthly update is
    # re-requested every N working days; a notice's response is due N working days after issue.
    UPDATE_REREQUEST_WORKING_DAYS = _env_int("UPDATE_REREQUEST_WORKING_DAYS", 5)
    URGE_RESPONSE_WORKING_DAYS = _env_int("URGE_RESPONSE_WORKING_DAYS", 3)
    # Prefix of urge and supervision notice numbers (綦科〔2026〕3号).
    NOTICE_NUMBER_PREFIX = _env("NOTICE_NUMBER_PREFIX") or "綦科"
    # The quarterly bulletin (季通报) as a 公文: the issuing organ in its red header (版头), the
    # signer under the text (落款, usually the same organ) and its 文号 series' prefix.
    BULLETIN_ORGAN = _env("BULLETIN_ORGAN") or "綦江区“双倍增”行动联席会议办公室"
    BULLETIN_SIGNER = _env("BULLETIN_SIGNER") or "綦江区“双倍增”行动联席会议办公室"
    BULLETIN_NUMBER_PREFIX = _env("BULLETIN_NUMBER_PREFIX") or "綦双倍增办"
    # 抄送 line of the bulletin's 版记 (empty: no 抄送 line); 印发机关 is the organ.
    BULLETIN_COPY_TO = _env("BULLETIN_COPY_TO") or ""
    # The outbox (defaults): attempts per message, the first retry delay (doubled each attempt:
    # 60 s, 120 s, 240 s, …), and after how long a row still "sending" was interrupted.
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 6)
    OUTBOX_BACKOFF_SECONDS = _env_int("OUTBOX_BACKOFF_SECONDS", 60)
    OUTBOX_STALE_MINUTES = _env_int("OUTBOX_STALE_MINUTES", 15)
    # Group robots (a default: DingTalk's and WeCom's documented limit is 20 messages a minute per
    # robot; Feishu allows 100): messages over it wait in the outbox for the next minute.
    ROBOT_RATE_PER_MINUTE = _env_int("ROBOT_RATE_PER_MINUTE", 20)
    # Older undelivered inbox items are not e-mailed any more (a default).
    DIGEST_MAX_AGE_DAYS = _env_int("DIGEST_MAX_AGE_DAYS", 14)

    # Monthly dispatch (月调度). The plan asks for it monthly but names no day: these are defaults
    # (方案未规定，默认值，可调整). A month is opened from this day of the next month (its first
    # working day on or after it, by the scheduler) ...
    DISPATCH_OPEN_DAY = _env_int("DISPATCH_OPEN_DAY", 1)
    # ... units that have not confirmed are reminded on this working day of the month ...
    DISPATCH_REMIND_WORKING_DAY = _env_int("DISPATCH_REMIND_WORKING_DAY", 3)
    # ... and the deadline is this working day after the month's end (late after it).
    DISPATCH_LATE_AFTER_WORKING_DAY = _env_int("DISPATCH_LATE_AFTER_WORKING_DAY", 5)

    # Production: logs, reverse proxy, HTTPS, backups (docs/deploy.md).
    LOG_FORMAT = _env("LOG_FORMAT", "text")  # "json": one JSON object per line
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")
    PROXY_COUNT = _env_int("PROXY_COUNT", 0)  # reverse proxies whose X-Forwarded-* are trusted
    HSTS_SECONDS = _env_int("HSTS_SECONDS", 0)  # Strict-Transport-Security max-age over HTTPS
    BACKUP_DIR = Path(_env("BACKUP_DIR", str(INSTANCE_DIR / "backups")))

    # Audit chain (taskflow/core/audit.py): the hash of new events, "sha256" or "sm3" (GB/T 32905,
    # for 密评); events already written keep the scheme they were chained with.
    AUDIT_HASH = _env("AUDIT_HASH") or "sha256"
    # Key of the HMAC that signs the chain-head anchors; unset: derived from SECRET_KEY. Set it
    # separately so rotating SECRET_KEY leaves earlier anchors verifiable.
    AUDIT_ANCHOR_KEY = _env("AUDIT_ANCHOR_KEY")
    # Minutes between anchors of the chain's head (default, not set by law or plan: hourly).
    AUDIT_ANCHOR_INTERVAL_MINUTES = _env_int("AUDIT_ANCHOR_INTERVAL_MINUTES", 60) or 60  # 0: 60
    # Mailbox that gets a copy of every anchor through the outbox (unset: file and log only).
    AUDIT_ANCHOR_EMAIL = _env("AUDIT_ANCHOR_EMAIL")
    # Days security events and sign-in attempts are kept: 180 is the legal minimum (网络安全法
    # art. 21, six months); shorter values are refused unless ..._ALLOW_SHORT is set explicitly.
    SECURITY_LOG_RETENTION_DAYS = _env_int("SECURITY_LOG_RETENTION_DAYS", 180)
    SECURITY_LOG_RETENTION_ALLOW_SHORT = _env_bool("SECURITY_LOG_RETENTION_ALLOW_SHORT", False)
    # Confidential fields (mobile numbers) are encrypted with SM4 under this key: 32 hex digits.
    # Unset in development and tests: generated once into INSTANCE_DIR/field_key (mode 600).
    FIELD_KEY = _env("FIELD_KEY")
    # The previous key while `flask crypto rotate-key` runs: values under it stay readable.
    FIELD_KEY_OLD = _env("FIELD_KEY_OLD")
    # Refuse to start without FIELD_KEY (production: a generated key would sit beside the data).
    FIELD_KEY_REQUIRED = False

    # Local time (HH:MM) of the scheduler's nightly recompute of draft score periods.
    SCORES_RECOMPUTE_AT = _env("SCORES_RECOMPUTE_AT") or "01:30"

    # The scheduler's single-instance lease in the database (scheduler_lease): renewed every
    # SCHEDULER_HEARTBEAT_SECONDS, taken over by another scheduler when not renewed for
    # SCHEDULER_LEASE_TTL_SECONDS. Defaults, not set by the plan.
    SCHEDULER_HEARTBEAT_SECONDS = _env_int("SCHEDULER_HEARTBEAT_SECONDS", 30)
    SCHEDULER_LEASE_TTL_SECONDS = _env_int("SCHEDULER_LEASE_TTL_SECONDS", 120)

    # Seconds a gunicorn worker reuses the cockpit's rendered figures (0 disables the cache).
    COCKPIT_CACHE_SECONDS = _env_int("COCKPIT_CACHE_SECONDS", 60)

    TESTING = False


class DevelopmentConfig(Config):
    """Local development: `make run`."""

    DEBUG = False
    SECRET_KEY_FROM_INSTANCE = True


class TestingConfig(Config):
    """The test suite: a throwaway database and data directory per test."""

    TESTING = True
    # Random per test process (a key written here would be a published one); subprocesses of a
    # test get it through TASKFLOW_SECRET_KEY.
    SECRET_KEY = secrets.token_hex(32)
    COCKPIT_CACHE_SECONDS = 0  # tests that want the cache switch it on
    SQLALCHEMY_DATABASE_URI = os.environ.get("TASKFLOW_TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = True
    # The test's own session reads between requests; it must not hold SQLite's write lock.
    SQLITE_IMMEDIATE_OUTSIDE_REQUESTS = False
    # Off for the suite at large (its login helper signs in with a password only); the accounts
    # tests switch the second factor and password expiry on explicitly.
    TOTP_REQUIRED_ROLES = ""
    PASSWORD_MAX_AGE_DAYS = 0


class ProductionConfig(Config):
    """Production: secrets and the database must come from the environment."""

    SESSION_COOKIE_SECURE = _env_bool("COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    HSTS_SECONDS = _env_int("HSTS_SECONDS", 31_536_000)
    FIELD_KEY_REQUIRED = True


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """Pick the settings class named by TASKFLOW_ENV (default: development)."""
    return CONFIGS[os.environ.get("TASKFLOW_ENV", "development")]
