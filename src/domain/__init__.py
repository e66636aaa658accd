"""The revocation rules, free of any framework, driver or clock."""
