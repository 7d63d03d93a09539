"""OCPP-J framing, schema validation and the message handlers of both versions."""
