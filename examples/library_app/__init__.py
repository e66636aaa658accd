"""Another team's orders API, protected by the revocation check in-process (library mode)."""
