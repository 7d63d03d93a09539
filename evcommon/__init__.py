"""Pieces shared by the CSMS, the edge controller and the simulators.

Only contracts and infrastructure live here (clock, MQTT contract, config
loading, logging, errors); no component's internals.
"""
