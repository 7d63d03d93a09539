"""Site simulation: building base load, PV, battery and the site meters published over MQTT."""
