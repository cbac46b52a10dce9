"""The generated permission matrices' common ground: every operation a router serves.

Each API module has its matrix (tests/api/test_permission_matrix.py for persons, case files
and sharing bases; one per domain app), generated from its router, so a new endpoint cannot
forget its access tests. ``MATRIX_MODULES`` lists them, and test_matrices.py holds their union
to the OpenAPI document: an operation no matrix covers fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

READ_METHODS = {"get", "head", "options"}

# Every module with a generated matrix; each defines OPERATIONS (a list of Operation).
MATRIX_MODULES = [
    "tests.api.test_permission_matrix",
    "tests.referrals.test_api_permission_matrix",
    "tests.assessments.test_api_permission_matrix",
    "tests.events.test_api_permission_matrix",
    "tests.budgets.test_api_permission_matrix",
]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the OpenAPI document, e.g. /api/v1/persons/{id}/
    needs: str  # the scope it needs
    detail: bool  # acts on one object named in the path
    on_person: bool  # a create that names the person it concerns in its body

    @property
    def writes(self) -> bool:
        return self.method not in READ_METHODS

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations_of(
    router: Any,
    resource_of_prefix: dict[str, str],
    *,
    on_person: Callable[[str, Any, bool], bool] = lambda prefix, route, writes: False,
) -> list[Operation]:
    """Every route and method ``router`` serves, with the scope each needs: the resource group
    of its prefix, ``:read`` or ``:write``. ``on_person(prefix, route, writes)`` says which
    creates name, in their body, the person they concern."""
    found = []
    for prefix, viewset, _ in router.registry:
        for route in router.get_routes(viewset):
            methods = router.get_method_map(viewset, route.mapping)
            url = (
                route.url.replace("{prefix}", prefix)
                .replace("{lookup}", "{id}")
                .replace("{trailing_slash}", "/")
                .strip("^$")
            )
            for method in methods:
                writes = method not in READ_METHODS
                resource = resource_of_prefix[prefix]
                found.append(
                    Operation(
                        method=method,
                        path=f"/api/v1/{url}",
                        needs=f"{resource}:{'write' if writes else 'read'}",
                        detail=route.detail,
                        on_person=on_person(prefix, route, writes),
                    )
                )
    return found
