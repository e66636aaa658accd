"""The logout half of a JWT login system: revoke tokens everywhere, at once.

One import root over the three folders of the hexagon: `revocation.domain` (the rules),
`revocation.adapters` (the technologies behind its ports), `revocation.entrypoints` (HTTP,
CLI, the composition root).
"""
