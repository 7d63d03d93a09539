"""Station identities, and station passwords (security profile 1): salted scrypt hashes
and HTTP basic auth."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1
MAX_STATION_ID = 48  # OCPP: the identity is a CiString48
# unsafe in an MQTT topic (wildcards, level separator) or a URL path segment
_UNSAFE = {"#": "an MQTT wildcard", "+": "an MQTT wildcard", "/": "a path separator"}


def station_id_problem(station_id: str) -> str | None:
    """Why ``station_id`` cannot be a station identity, or None when it can.

    OCPP's identity is printable ASCII up to 48 characters. Ours also becomes an MQTT
    topic level and a URL segment, so ``#``, ``+`` and ``/`` are refused as well: a
    wildcard in a topic the CSMS publishes to would fail the broker connection."""
    if not station_id:
        return "station id is empty"
    if len(station_id) > MAX_STATION_ID:
        return f"station id is longer than {MAX_STATION_ID} characters"
    for ch in station_id:
        if not (ch.isascii() and ch.isprintable()):
            return f"station id contains a non-printable or non-ASCII character (U+{ord(ch):04X})"
        if ch in _UNSAFE:
            return f"station id contains {ch!r} ({_UNSAFE[ch]})"
    return None


# OCPP 1.6 security whitepaper / 2.0.1 A00: the basic-auth password is 16-40 characters
PASSWORD_LENGTH = (16, 40)


def password_problem(password: str) -> str | None:
    lo, hi = PASSWORD_LENGTH
    if not lo <= len(password) <= hi:
        return f"must be {lo}-{hi} characters (OCPP security profiles 1 and 2), got {len(password)}"
    return None


def generate_password() -> str:
    """32 random characters from an alphabet chargers' config screens can take."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(32))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_N}${_R}${_P}${salt_b64}${digest_b64}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        got = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(digest)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, digest)


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic ...`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        # OCPP 1.6 security whitepaper: the password may be binary (hex in config); latin-1
        # keeps every byte
        user, sep, password = base64.b64decode(token.strip()).decode("latin-1").partition(":")
    except (ValueError, binascii.Error):
        return None
    return (user, password) if sep else None
