"""Scenarios: a site (stations, meters, PV, battery), vehicles and sessions on a clock."""
