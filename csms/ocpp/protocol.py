"""OCPP-J RPC framing and payload validation, for 1.6 and 2.0.1.

Frames: CALL ``[2, id, action, payload]``, CALLRESULT ``[3, id, payload]``,
CALLERROR ``[4, id, code, description, details]``. Payloads are validated
against the JSON schemas bundled with the ``ocpp`` library, compiled once per
action with fastjsonschema (the stock jsonschema dispatch is several times
slower). Error codes follow each version's spec; see docs/csms.md.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import fastjsonschema
import ocpp
import orjson

Version = Literal["1.6", "2.0.1"]
SUBPROTOCOLS: dict[str, Version] = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
SUBPROTOCOL_OF: dict[Version, str] = {v: k for k, v in SUBPROTOCOLS.items()}

CALL, CALLRESULT, CALLERROR = 2, 3, 4
SCHEMA_DIRS: dict[Version, Path] = {
    "1.6": Path(ocpp.__file__).parent / "v16" / "schemas",
    "2.0.1": Path(ocpp.__file__).parent / "v201" / "schemas",
}

# The codes whose names differ between the versions.
_CODES: dict[Version, dict[str, str]] = {
    "1.6": {
        "format": "FormationViolation",
        "occurrence": "OccurenceConstraintViolation",  # sic, 1.6 spelling
        "rpc": "ProtocolError",
        "message_type": "ProtocolError",
    },
    "2.0.1": {
        "format": "FormatViolation",
        "occurrence": "OccurrenceConstraintViolation",
        "rpc": "RpcFrameworkError",
        "message_type": "MessageTypeNotSupported",
    },
}


def code(version: Version, kind: str) -> str:
    """Spec error code of ``kind`` (format, occurrence, rpc, message_type) in ``version``."""
    return _CODES[version][kind]


class FrameError(Exception):
    """An incoming frame that must be answered with a CALLERROR."""

    def __init__(self, message_id: str, error_code: str, description: str, details: Any = None):
        self.message_id, self.code, self.description = message_id, error_code, description
        self.details = details if details is not None else {}
        super().__init__(f"{error_code}: {description}")


@dataclass(slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallError:
    message_id: str
    code: str
    description: str
    details: Any


Frame = Call | CallResult | CallError


_HEAD = re.compile(rb'^\s*\[\s*([234])\s*,\s*"([^"\\]{1,36})"')


def peek(raw: str | bytes) -> tuple[int, str] | None:
    """(message type, message id) from the first bytes of a frame too big to parse."""
    head = raw[:96].encode() if isinstance(raw, str) else raw[:96]
    m = _HEAD.match(head)
    return (int(m.group(1)), m.group(2).decode()) if m else None


def parse(raw: str | bytes, version: Version) -> Frame:
    """Parse one websocket message; FrameError carries the CALLERROR to answer with.

    A frame whose message id cannot be read is answered with id "-1" (2.0.1 part 4,
    4.2.3); we do the same for 1.6.
    """
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError("-1", code(version, "format"), f"not valid JSON: {exc}") from exc
    if not isinstance(msg, list) or len(msg) < 3:
        raise FrameError("-1", code(version, "rpc"), "frame is not an OCPP-J array")
    type_id, message_id = msg[0], msg[1]
    if not isinstance(message_id, str) or not message_id or len(message_id) > 36:
        raise FrameError("-1", code(version, "rpc"), "message id is not a string of 1-36 chars")
    if type_id == CALL:
        if len(msg) != 4 or not isinstance(msg[2], str):
            raise FrameError(message_id, code(version, "rpc"), "CALL must be [2, id, action, {}]")
        if not isinstance(msg[3], dict):
            raise FrameError(message_id, code(version, "format"), "CALL payload is not an object")
        return Call(message_id, msg[2], msg[3])
    if type_id == CALLRESULT:
        if len(msg) != 3 or not isinstance(msg[2], dict):
            raise FrameError(message_id, code(version, "rpc"), "CALLRESULT must be [3, id, {}]")
        return CallResult(message_id, msg[2])
    if type_id == CALLERROR:
        if len(msg) < 4:
            raise FrameError(message_id, code(version, "rpc"), "CALLERROR is incomplete")
        desc = msg[3] if len(msg) > 3 else ""
        details = msg[4] if len(msg) > 4 else {}
        return CallError(message_id, str(msg[2]), str(desc), details)
    raise FrameError(message_id, code(version, "message_type"), f"message type {type_id!r}")


def dumps_call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALL, message_id, action, payload]).decode()


def dumps_result(message_id: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([CALLRESULT, message_id, payload]).decode()


def dumps_error(message_id: str, error_code: str, description: str, details: Any = None) -> str:
    return orjson.dumps(
        [CALLERROR, message_id, error_code, description[:255], details or {}]
    ).decode()


# -- schemas --------------------------------------------------------------------
def _schema_file(version: Version, action: str, response: bool) -> Path:
    if version == "1.6":
        name = f"{action}Response.json" if response else f"{action}.json"
    else:
        name = f"{action}{'Response' if response else 'Request'}.json"
    return SCHEMA_DIRS[version] / name


@functools.cache
def known_actions(version: Version) -> frozenset[str]:
    """Every action of the version (either direction), from the schema file names."""
    names = set()
    for path in SCHEMA_DIRS[version].glob("*.json"):
        stem = path.stem
        if stem.endswith("Response"):
            names.add(stem[: -len("Response")])
        elif version == "2.0.1" and stem.endswith("Request"):
            names.add(stem[: -len("Request")])
    return frozenset(names)


@functools.cache
def validator(version: Version, action: str, response: bool = False) -> Any:
    path = _schema_file(version, action, response)
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    schema.pop("$schema", None)  # draft-04/06 keywords compile the same for these files
    return fastjsonschema.compile(schema)


_RULE_KIND = {
    "type": "TypeConstraintViolation",
    "enum": "PropertyConstraintViolation",
    "maxLength": "PropertyConstraintViolation",
    "minLength": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "pattern": "PropertyConstraintViolation",
    "format": "PropertyConstraintViolation",
    "multipleOf": "PropertyConstraintViolation",
    "const": "PropertyConstraintViolation",
}


def validate(version: Version, message_id: str, action: str, payload: dict[str, Any]) -> None:
    """Validate an incoming CALL payload; FrameError with the spec's code when it fails."""
    try:
        validator(version, action)(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        rule = exc.rule or ""
        if rule == "required":
            error_code = "ProtocolError"  # "payload for action is incomplete"
        elif rule == "additionalProperties":
            error_code = code(version, "format")
        elif rule in ("minItems", "maxItems", "uniqueItems"):
            error_code = code(version, "occurrence")
        else:
            error_code = _RULE_KIND.get(rule, code(version, "format"))
        raise FrameError(message_id, error_code, exc.message, {"field": exc.name}) from exc
    problem = unstorable(payload, integer_paths(version, action))
    if problem is not None:
        field, why = problem
        raise FrameError(
            message_id, "PropertyConstraintViolation", f"{field} {why}", {"field": field}
        )


INT32 = (-(2**31), 2**31 - 1)  # OCPP's integer: 32 bits (1.6 and 2.0.1 part 4)


@functools.cache
def integer_paths(version: Version, action: str) -> frozenset[tuple[str, ...]]:
    """Paths of the integer fields of an action's request schema (``[]`` for list items)."""
    schema = json.loads(_schema_file(version, action, False).read_text(encoding="utf-8-sig"))
    found: set[tuple[str, ...]] = set()

    def walk(node: Any, path: tuple[str, ...], depth: int) -> None:
        if depth > 32 or not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            walk(schema.get("definitions", {}).get(ref.rsplit("/", 1)[1]), path, depth + 1)
        if node.get("type") == "integer":
            found.add(path)
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, (*path, key), depth + 1)
        if "items" in node:
            walk(node["items"], (*path, "[]"), depth + 1)

    walk(schema, (), 0)
    return frozenset(found)


def unstorable(
    value: Any, integers: frozenset[tuple[str, ...]], path: tuple[str, ...] = ()
) -> tuple[str, str] | None:
    """(field, why) for the first schema-valid value no database column can hold: a NUL
    in a string (PostgreSQL refuses it in text) or an integer field beyond OCPP's 32 bits
    (the JSON parser may hand a huge one over as a float)."""
    if isinstance(value, str):
        return (_field(path), "must not contain NUL characters") if "\x00" in value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if path in integers and not INT32[0] <= value <= INT32[1]:
            return (_field(path), "is out of range: OCPP integers are 32 bits")
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if (found := unstorable(item, integers, (*path, str(key)))) is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            if (found := unstorable(item, integers, (*path, "[]"))) is not None:
                return found
    return None


def _field(path: tuple[str, ...]) -> str:
    return ".".join(("data", *path)).replace(".[]", "[]")
