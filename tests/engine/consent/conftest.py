"""The campaign tests' loopback vendor simulator, for the sends these tests watch."""

from tests.engine.campaigns.conftest import start_vendor

__all__ = ["start_vendor"]
