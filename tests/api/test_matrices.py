"""The generated permission matrices, together, cover every operation the API documents."""

from importlib import import_module

from tests.api.matrix import MATRIX_MODULES
from tests.api.openapi import document


def test_the_matrices_cover_every_documented_operation(db):
    documented = {
        f"{method.upper()} {path}" for path, item in document()["paths"].items() for method in item
    }
    covered = {str(op) for module in MATRIX_MODULES for op in import_module(module).OPERATIONS}
    assert covered == documented
