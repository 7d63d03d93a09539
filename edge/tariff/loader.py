"""Load tariffs from TOML: a file path, or the name of one shipped in edge/tariff/tariffs/."""

from __future__ import annotations

from pathlib import Path

from edge.tariff.model import Tariff
from evcommon.config import read_toml, validate_section
from evcommon.errors import ConfigError

TARIFF_DIR = Path(__file__).parent / "tariffs"


def builtin_tariffs() -> list[str]:
    return sorted(p.stem for p in TARIFF_DIR.glob("*.toml"))


def resolve_tariff_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path
    builtin = TARIFF_DIR / f"{name_or_path}.toml"
    if builtin.exists():
        return builtin
    known = ", ".join(builtin_tariffs())
    raise ConfigError(f"no tariff file or built-in tariff {name_or_path!r} (built-in: {known})")


def load_tariff(name_or_path: str | Path) -> Tariff:
    """Read and validate a tariff; errors name the offending key."""
    path = resolve_tariff_path(name_or_path)
    data = read_toml(path)
    return validate_section(Tariff, data, source=str(path))
