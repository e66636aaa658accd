"""The reproducible benchmark: `make bench` (or `python -m bench --help`)."""
