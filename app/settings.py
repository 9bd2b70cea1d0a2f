"""Settings from the environment (prefix STINT_) or a .env file."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.deadlines import ReminderPolicy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STINT_", env_file=".env", env_ignore_empty=True, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./stint.db"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    """Where callers reach this service; also the xAPI account homePage when no LRS names one."""
    max_body_bytes: int = 1024 * 1024
    max_batch_body_bytes: int = 16 * 1024 * 1024
    """Batch endpoints (`…/batch`) take up to 1,000 items: they get more room than other JSON bodies."""
    max_import_bytes: int = 100 * 1024 * 1024
    """Files sent to `POST /v1/imports` (streamed, never held in memory whole)."""
    rate_limit_per_second: float = Field(default=50.0, ge=0)
    """Requests per second each API key or person may sustain; 0 turns limits off."""
    rate_limit_burst: int = Field(default=100, ge=1)
    redis_url: str | None = None
    """With it, every process shares one bucket per caller; without, each process keeps its own."""
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0)
    """On SIGTERM: stop accepting, let requests in flight finish for up to this long, then exit."""
    log_level: str = "info"
    api_key_cache_seconds: float = Field(default=10.0, ge=0)
    """How long a process trusts an API-key lookup: a revoked key stops working within this."""
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    jwks_cache_seconds: float = Field(default=300.0, ge=0)
    jwks_min_refresh_seconds: float = Field(default=5.0, ge=0)
    identity_provider_cache_seconds: float = Field(default=10.0, ge=0)
    """How long a process trusts an identity provider's configuration, and the tokens it verified with it:
    a change (issuer, audience, keys) applies within this. Whether the person is active is read on every request."""

    # The deadline sweeper (`stint worker`, or `stint serve --with-worker`).
    with_worker: bool = False
    sweep_batch_size: int = Field(default=500, ge=1, le=10_000)
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    due_soon_share: float = Field(default=0.2, ge=0, le=1)
    due_soon_min_lead: timedelta = timedelta(minutes=15)
    offer_expiring_lead: timedelta = timedelta(hours=24)

    # Webhook delivery (`stint worker`).
    webhooks_allow_private: bool = False
    """Let webhook URLs use http and loopback or private addresses: for development and tests only."""
    delivery_batch_size: int = Field(default=32, ge=1, le=1000)
    """Kept small so a batch of slow receivers finishes well inside its 2-minute lease."""
    delivery_interval_seconds: float = Field(default=1.0, gt=0)
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)

    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_timeout_seconds: float = Field(default=30.0, gt=0)
    """How long a request waits on PostgreSQL before it answers 503 database_unavailable."""
    db_pool_size: int = Field(default=20, ge=1)
    """PostgreSQL connections each process keeps open. Connections beyond it (up to db_max_overflow more) are
    closed when returned, so a pool smaller than the usual concurrency reconnects on almost every request."""
    db_max_overflow: int = Field(default=10, ge=0)

    def engine_options(self) -> dict[str, float]:
        return {
            "connect_timeout": self.db_connect_timeout_seconds, "statement_timeout": self.db_statement_timeout_seconds,
            "pool_size": self.db_pool_size, "max_overflow": self.db_max_overflow,
        }

    def reminder_policy(self) -> ReminderPolicy:
        return ReminderPolicy(self.due_soon_share, self.due_soon_min_lead, self.offer_expiring_lead)


@lru_cache
def get_settings() -> Settings:
    return Settings()
