"""JSON-schema validation of OCPP payloads with the official schemas shipped in ``ocpp``.

Validators are compiled once per (version, action, direction) with fastjsonschema.
``multipleOf`` is dropped: 1.6 declares limits ``multipleOf 0.1``, which binary floats
like 3.3 fail spuriously; limits are rounded to 0.1 where they are produced instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

Validator = Callable[[Any], Any]


class SchemaViolation(Exception):
    """A payload breaks its schema; ``code`` is the OCPP error code to answer with."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def _strip_multiple_of(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_multiple_of(v) for k, v in node.items() if k != "multipleOf"}
    if isinstance(node, list):
        return [_strip_multiple_of(v) for v in node]
    return node


def _schema_name(version: str, action: str, response: bool) -> str:
    if version == "1.6":
        return f"{action}Response.json" if response else f"{action}.json"
    return f"{action}Response.json" if response else f"{action}Request.json"


@cache
def validator(version: str, action: str, response: bool) -> Validator | None:
    """The compiled validator, or None when the version has no such action."""
    package = "ocpp.v16.schemas" if version == "1.6" else "ocpp.v201.schemas"
    try:
        text = (
            resources.files(package).joinpath(_schema_name(version, action, response)).read_text()
        )
    except FileNotFoundError:
        return None
    schema = _strip_multiple_of(json.loads(text))
    schema.pop("$schema", None)  # fastjsonschema picks draft-04 semantics by default
    return fastjsonschema.compile(schema)  # type: ignore[no-any-return]


def has_action(version: str, action: str) -> bool:
    return validator(version, action, False) is not None


def validate(version: str, action: str, payload: Any, *, response: bool = False) -> None:
    """Raise :class:`SchemaViolation` with the code the spec prescribes for ``version``."""
    check = validator(version, action, response)
    if check is None:
        return
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise SchemaViolation(_code(version, exc.rule), exc.message) from exc


def _code(version: str, rule: str | None) -> str:
    if rule == "type":
        return "TypeConstraintViolation"
    if rule in ("required", "minItems", "maxItems"):
        return (
            "OccurenceConstraintViolation" if version == "1.6" else "OccurrenceConstraintViolation"
        )
    if version == "1.6" and rule == "additionalProperties":
        return "FormationViolation"
    return "PropertyConstraintViolation"
