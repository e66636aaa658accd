"""The reproducible benchmark of issue #4: `make bench` (or `python -m bench --help`)."""
