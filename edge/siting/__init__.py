"""Siting: where an arriving vehicle charges, by load flow on the site network."""
