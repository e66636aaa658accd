"""The service's Blacklist contract, run against our own adapter: these few lines are all."""

from __future__ import annotations

import pytest

from examples.own_adapter.dict_blacklist import DictBlacklist
from revocation.domain.ports import Blacklist
from revocation.testing.blacklist_contract import BlacklistContract


class TestDictBlacklist(BlacklistContract):
    @pytest.fixture
    def blacklist(self) -> Blacklist:
        return DictBlacklist()
