"""For a team's own tests (docs/testing.md): the pytest plugin's fixtures (`plugin`, loaded by
pytest itself once the package is installed) and the ports' contract suites, to run against an
adapter of their own (`BlacklistContract`, `TokenLogContract`). Needs pytest and pytest-asyncio.
"""
