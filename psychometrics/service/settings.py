"""Settings of a running service (command-line options of ``psychometrics serve``)."""

from __future__ import annotations

from dataclasses import dataclass

from psychometrics.service.store import DEFAULT_DATABASE_URL

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """What a service instance needs to know.

    Attributes
    ----------
    database_url : str
        SQLAlchemy URL of the store: ``sqlite:///path.db`` or ``postgresql+psycopg://...``.
    rate_limit : float
        Requests per second allowed per API key (token bucket); 0 turns the limit off.
    rate_burst : int or None
        Requests a key may send at once before the rate applies (default: one second's worth,
        at least 10).
    max_body_bytes : int
        Larger request bodies get 413 (1 MiB).
    max_respondents : int
        More respondents in one scoring call get 413.
    migrate : bool
        Bring the database schema up to date when the app starts.
    key_cache_seconds : float
        How long a checked API key is trusted before its row is read again: a key revoked by
        another process (``psychometrics keys revoke``) is refused at the latest this much later
        (at once when revoked in the server's own process).
    """

    database_url: str = DEFAULT_DATABASE_URL
    rate_limit: float = 100.0
    rate_burst: int | None = None
    max_body_bytes: int = 1_048_576
    max_respondents: int = 1000
    migrate: bool = True
    key_cache_seconds: float = 5.0

    def __post_init__(self) -> None:
        if not self.rate_limit >= 0:
            raise ValueError(f"rate_limit must be >= 0 requests per second, got {self.rate_limit!r}")
        if self.rate_burst is not None and self.rate_burst < 1:
            raise ValueError(f"rate_burst must be at least 1, got {self.rate_burst!r}")
        if not 0 <= self.key_cache_seconds <= 3600:
            raise ValueError(f"key_cache_seconds must be in [0, 3600], got {self.key_cache_seconds!r}")
        if self.max_body_bytes < 1 or self.max_respondents < 1:
            raise ValueError("max_body_bytes and max_respondents must be positive")

    @property
    def burst(self) -> int:
        return self.rate_burst if self.rate_burst is not None else max(10, int(round(self.rate_limit)))
