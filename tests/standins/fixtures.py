"""pytest fixtures that start stand-in servers (imported by the connector conftests)."""

from __future__ import annotations

import pytest

from tests.standins.brp import BrpStandIn
from tests.standins.psd2 import Psd2StandIn
from tests.standins.woz import WozStandIn

# A test person with a partner, a child and a parent living in Utrecht.
BRP_BSN = "900194054"
WOZ_ID = "800000014669"
API_KEY = "test-key"


@pytest.fixture
def brp_standin():
    server = BrpStandIn(api_key=API_KEY, slow_seconds=3).start()
    yield server
    server.stop()


@pytest.fixture
def woz_standin():
    server = WozStandIn(api_key=API_KEY, slow_seconds=3).start()
    yield server
    server.stop()


@pytest.fixture
def psd2_standin():
    server = Psd2StandIn(api_key=API_KEY, slow_seconds=3).start()
    yield server
    server.stop()
