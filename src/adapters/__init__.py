"""Implementations of the domain's ports, named for their technology."""
