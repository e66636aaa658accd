"""Examples of using the revocation service as a library."""
