"""`python -m bench`: see bench/run.py and the README's "Benchmark" section."""

from bench.run import main

raise SystemExit(main())
