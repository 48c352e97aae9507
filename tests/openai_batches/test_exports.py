"""The package exports every typed error, so callers never import from a submodule."""

from __future__ import annotations

import inspect

import batchmon.openai_batches as package
from batchmon.openai_batches import errors


def test_every_error_class_is_exported_by_the_package() -> None:
    defined = {
        name
        for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, errors.BatchApiError) and value.__module__ == errors.__name__
    }
    assert defined == set(errors.__all__)
    assert defined <= set(package.__all__)
    assert all(getattr(package, name) is getattr(errors, name) for name in defined)


def test_beside_the_errors_the_package_exports_the_client() -> None:
    assert set(package.__all__) - set(errors.__all__) == {
        "PAGE_SIZE",
        "BatchClient",
        "StatusReport",
    }
    assert all(hasattr(package, name) for name in package.__all__)
