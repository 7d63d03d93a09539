"""Database URLs as users write them, mapped to the async drivers."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from csms.errors import CsmsError


def async_url(url: str) -> URL:
    """``sqlite:///path`` -> aiosqlite, ``postgresql://...`` -> asyncpg."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise CsmsError(f"database URL {url!r} is not valid: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise CsmsError(f"database URL {url!r}: only sqlite:// and postgresql:// are supported")
