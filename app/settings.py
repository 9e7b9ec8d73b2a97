"""Configuration, read once from the environment.

Every variable the service reads is a field here, and the README's configuration table
lists exactly these (tests/test_readme.py keeps the two equal).
"""

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("toolsets-service")) / "postgres"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="postgresql://user:pass@host:port/db; unset means the embedded PostgreSQL.",
    )
    toolsets_data_dir: Path = Field(default_factory=_default_data_dir)
    # Per worker process: up to 2 x this many connections (pool plus overflow); see the README.
    toolsets_db_pool_size: int = 10
    # How long a request waits for a free connection before answering 503 with Retry-After.
    toolsets_db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # Any statement running longer is cancelled and the request answers 503 (0: no limit).
    toolsets_statement_timeout_ms: int = Field(default=15_000, ge=0)
    # Large enough for a deployment of 10,000 tools with ~1.5 KiB of definition each.
    toolsets_max_body_bytes: int = 16 * 1024 * 1024
    toolsets_log_level: str = "INFO"
    # Served states kept per process (release and iteration-mode bodies), in bytes.
    toolsets_state_cache_bytes: int = Field(default=128 * 1024 * 1024, ge=0)
    # Pointers (which state each live toolset serves) kept per process, in bytes.
    toolsets_pointer_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    # Worker processes of `toolsets serve` when `--workers` is not given.
    workers: int = Field(default=1, ge=1)
    # With several workers on one host: a folder they share so /metrics aggregates them.
    # prometheus_client reads the variable itself; it is declared here to be documented.
    prometheus_multiproc_dir: Path | None = None
    # Jobs (app/jobs/): `toolsets serve` runs a worker in each server process unless false.
    toolsets_worker: bool = True
    toolsets_worker_concurrency: int = 10
    # A running job whose worker sent no heartbeat for this long is offered to another worker.
    toolsets_job_heartbeat_seconds: float = 30.0
    # Webhook deliveries: attempt timeout, exponential backoff between attempts, and when to stop.
    toolsets_webhook_timeout_seconds: float = 10.0
    toolsets_webhook_backoff_seconds: float = 10.0
    toolsets_webhook_max_backoff_seconds: float = 3600.0
    toolsets_webhook_max_attempts: int = 10
    # Keys that encrypt secrets at rest (upstream headers): app/kit/secrets.py.
    toolsets_secret_key: SecretStr | None = None
    # Limits of every tool call and resource read sent to an upstream (app/upstreams/client.py).
    toolsets_upstream_connect_timeout: float = 5.0
    toolsets_upstream_timeout: float = 30.0
    toolsets_upstream_max_response_bytes: int = 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
