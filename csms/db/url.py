"""Database URLs as users write them, mapped to the async drivers."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from csms.errors import CsmsError


def async_url(url: str) -> URL:
    """``sqlite:///path`` -> aiosqlite, ``postgresql://...`` -> asyncpg."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        # never echo it: an unparseable URL may still hold a password
        raise CsmsError(f"database URL is not valid ({type(exc).__name__})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise CsmsError(
        f"database URL {redact_url(url)!r}: only sqlite:// and postgresql:// are supported"
    )


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable: show the scheme only
        return url.split(":", 1)[0] + "://(unparseable URL)"
