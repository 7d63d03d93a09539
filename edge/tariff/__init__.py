"""Tariffs (TOML) and bills."""
