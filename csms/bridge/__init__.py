"""The MQTT bridge: publishes CSMS events and executes commands (evcommon.contract)."""
