from tests.engine.auth.fixtures import *  # noqa: F403
