"""Plain helpers the tests import: waits, clocks, factories, arrangements.

Fixtures live in ``tests/fixtures/`` (registered by the root ``conftest.py``); what a
test imports by name lives here, so no test imports from a ``conftest.py``.
"""
