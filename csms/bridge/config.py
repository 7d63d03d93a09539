"""The ``[mqtt]`` section of the CSMS config."""

from __future__ import annotations

from evcommon.config import Section


class MqttSection(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 1883
    topic_prefix: str = "evsite/v1"
