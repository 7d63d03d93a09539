"""Smart charging: charging profiles for both OCPP versions, the version-neutral limit API."""
