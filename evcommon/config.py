"""Typed configuration: TOML files validated by pydantic, with environment overrides.

Each daemon defines one settings tree: a :class:`SettingsBase` at the top and
:class:`Section` models below it (both reject unknown keys). :func:`load_settings`
reads the TOML file, lays environment variables over it (``PREFIX_SECTION__KEY``,
values parsed as JSON where they parse, else taken as strings) and turns any
validation failure into one :class:`~evcommon.errors.ConfigError` whose message
names every offending key, e.g. ``site.toml: mqtt.prot: unknown key``.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from evcommon.errors import ConfigError


class Section(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


# The file's contents for the settings being built; a source of its own so that
# the precedence is: explicit overrides (CLI) > environment > file > defaults.
_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("_FILE_DATA", default=None)


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


class SettingsBase(BaseSettings):
    """Top of a settings tree. Subclasses set ``env_prefix`` in ``model_config``."""

    model_config = SettingsConfigDict(
        extra="forbid",
        env_nested_delimiter="__",
        env_parse_none_str="null",
        validate_default=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init kwargs carry explicit overrides (command line); the file is its own source
        return (init_settings, env_settings, _FileSource(settings_cls))


S = TypeVar("S", bound=BaseSettings)
M = TypeVar("M", bound=BaseModel)


def read_toml(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError("file not found", source=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from exc


def format_validation_error(exc: ValidationError) -> tuple[str, list[str]]:
    lines: list[str] = []
    keys: list[str] = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        keys.append(key)
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        elif err["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        elif _secret_key(err["loc"]):
            lines.append(f"{key}: {err['msg']} (value not shown: a secret)")
        else:
            lines.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(lines), keys


# keys whose values are never echoed in an error (config files hold them in the clear)
_SECRET_WORDS = ("password", "secret", "token", "key", "url", "dsn", "credential")


def _secret_key(loc: tuple[Any, ...]) -> bool:
    return any(w in str(part).lower() for part in loc for w in _SECRET_WORDS)


def load_settings(
    cls: type[S],
    path: Path | str | None = None,
    *,
    overrides: dict[str, Any] | None = None,
) -> S:
    """Validate ``path`` (optional) plus environment plus explicit ``overrides``.

    ``overrides`` (e.g. command-line options) win over everything; nested keys
    use dicts, and None values count as not given.
    """
    data: dict[str, Any] = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    token = _FILE_DATA.set(data)
    try:
        settings = cls(**_drop_none(overrides or {}))
    except ValidationError as exc:
        message, keys = format_validation_error(exc)
        raise ConfigError(message, source=source, keys=keys) from exc
    finally:
        _FILE_DATA.reset(token)
    return settings


def validate_section(cls: type[M], data: Any, *, source: str) -> M:
    """Validate plain data against a model, naming keys in the error."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        message, keys = format_validation_error(exc)
        raise ConfigError(message, source=source, keys=keys) from exc


def _drop_none(over: dict[str, Any]) -> dict[str, Any]:
    """Overrides of None mean "not given" (an unset command-line option)."""
    out: dict[str, Any] = {}
    for key, value in over.items():
        if isinstance(value, dict):
            out[key] = _drop_none(value)
        elif value is not None:
            out[key] = value
    return out
