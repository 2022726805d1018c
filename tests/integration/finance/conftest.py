from __future__ import annotations

from tests.integration.connectors.conftest import settings  # noqa: F401
from tests.standins.fixtures import psd2_standin  # noqa: F401
