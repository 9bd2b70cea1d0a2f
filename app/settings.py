"""Settings from the environment (prefix STINT_) or a .env file."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STINT_", env_file=".env", env_ignore_empty=True, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./stint.db"
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1024 * 1024
    log_level: str = "info"


@lru_cache
def get_settings() -> Settings:
    return Settings()
