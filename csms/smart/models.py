"""Tables of the smart-charging feature (installed profiles)."""
