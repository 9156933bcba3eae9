"""Settings: one object, read from the environment with the ``ANJU_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "anju-dev-secret-change-me"


class Settings(BaseSettings):
    """Runtime configuration of Anju.

    ``database_url`` defaults to a SQLite file in ``data_dir``. In production mode the default
    secret key is refused, because it signs sessions and derives the personal-data keys.
    """

    model_config = SettingsConfigDict(env_prefix="ANJU_", env_file=".env", extra="ignore")

    env: str = "development"  # development | test | production
    data_dir: Path = Path("data")
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    session_hours: int = 12
    # Login throttling (see docs/security.md): a (user, address) pair is locked after
    # login_max_failures failures, for login_lock_minutes doubling with each further failure (at
    # most a day); an address is locked after login_address_max_failures failures on any accounts
    # within login_lock_minutes; an account refuses addresses it has not logged in from during
    # login_trusted_days after login_account_max_failures failures within login_lock_minutes.
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    login_address_max_failures: int = 20
    login_account_max_failures: int = 20
    login_trusted_days: int = 30
    page_size: int = 20
    # Residents file requests without an account (/public/requests/new, Open311 POST excluded: it
    # has API keys): at most this many per network address per hour and per day (0 = no limit).
    public_requests_per_hour: int = 5
    public_requests_per_day: int = 20
    map_tile_url: str = ""  # optional; offices often sit on an intranet
    max_upload_mb: int = 50
    # Upload inspection (anju.core.uploads, docs/operator.md "Uploads"): every upload is checked by
    # its content before anything parses it. A sheet's cells are rows x columns from A1 to its
    # farthest cell (what the reader allocates); the defaults fit a 100,000-household census.
    upload_max_entries: int = 1000
    upload_max_unzipped_mb: int = 1024
    upload_max_ratio: int = 100
    upload_max_sheet_cells: int = 10_000_000
    upload_max_total_cells: int = 20_000_000
    upload_max_rows: int = 1_048_576
    upload_max_columns: int = 16_384
    upload_max_image_pixels: int = 50_000_000
    upload_max_shared_text_mb: int = 1024  # shared-string text all cells take (each reference counted)
    # An import lists at most this many errors per column, and this many in all (the rest counted).
    import_errors_per_column: int = 20
    import_max_errors: int = 500
    # Encrypted census uploads awaiting confirmation are removed after this many minutes.
    import_file_ttl_minutes: int = 120
    # Worker threads per process for blocking route code. Few threads keep CPU-bound requests from
    # thrashing the GIL; raise it when the database is remote and requests mostly wait on it.
    threads: int = 2
    # Audit chain keys "id:secret,id:secret" (hex or base64, >= 32 bytes; the first writes, the others
    # only verify). Required in production; elsewhere a "dev" key is derived from secret_key.
    audit_keys: str = ""
    # Where signed chain heads go (default <data_dir>/audit-anchors; point it at another disk or machine).
    audit_anchor_dir: Path | None = None
    # Each server process writes an anchor at most this often when the chain moved (0: only `anju audit anchor`).
    audit_anchor_minutes: float = 15
    # Live pages (big screens): the change events of a write reach the screens of every server process
    # through Redis pub/sub when set (e.g. redis://127.0.0.1:6379/0); otherwise through PostgreSQL
    # LISTEN/NOTIFY on PostgreSQL, and within the process only on SQLite and MariaDB.
    redis_url: str = ""
    # A live event stream ends after this many seconds (the browser reconnects and refetches at once).
    live_stream_seconds: int = 1800
    # Open311 GeoReport v2 (/open311/v2/): the jurisdiction served (a request naming another is a 404)
    # and discovery's contact and where clients ask for an API key.
    open311_jurisdiction_id: str = "anju"
    open311_contact: str = "街道办事处 网格化服务管理中心"
    open311_key_service: str = "联系街道网格化服务管理中心申请 API 密钥（anju open311 key-add）"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.env == "production" and self.secret_key == DEFAULT_SECRET:
            raise ValueError("ANJU_SECRET_KEY must be set in production (the default key is refused)")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("ANJU_SECRET_KEY must be at least 32 characters in production")
        if self.env == "production" and not self.audit_keys.strip():
            raise ValueError("ANJU_AUDIT_KEYS must be set in production (see `anju audit keygen`)")
        if self.audit_keys.strip():
            from anju.audit.keys import parse_keys  # late: the audit package reads these settings

            parse_keys(self.audit_keys)  # refuses a short, malformed or duplicate key at start-up
        return self

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'anju.db').resolve()}"

    @property
    def attachment_dir(self) -> Path:
        """Folder where uploaded attachments are kept, by checksum."""
        return self.data_dir / "attachments"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache)."""
    return Settings()
