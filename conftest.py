"""Root pytest configuration: shared fixture plugins live in tests/fixtures/.

What tests import by name (waits, clocks, factories) lives in tests/helpers/.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = [
    "tests.fixtures.loops",
    "tests.fixtures.postgres",
    "tests.fixtures.supabase_project",
    "tests.fixtures.sim",
    "tests.fixtures.clients",
    "tests.fixtures.keyring",
    "tests.fixtures.gateway",
]
