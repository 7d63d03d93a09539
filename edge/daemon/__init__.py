"""The edge daemon: MQTT state cache, control loop, command client."""
