"""Model instances, and the instances joined to them, from one fixed SELECT.

Its one user is the bearer token of every partner-API request, with its application, partner
client, agency and service user (``caretrust.api.auth.token_with_partner``). Building and
compiling that five-model ``select_related`` query costs several times what PostgreSQL takes
to answer it: re-measured on 2026-12-03 (bench database, 2,000 lookups after 200, three
alternating runs), p50 1.1-2.2 ms through the ORM against 0.28-0.31 ms here, a fifth to a third
of an API read's CPU. A ``FixedSelect`` writes its statement once, from the models' own
fields, and turns each row back into the instances ``select_related`` would have made: the
same values through the same converters, with the related objects cached, so that following
them sends no query (tests/test_fixed_select.py holds it to select_related).

Only for that hot path; everything else, the visibility rule above all, uses the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import connection, models


@dataclass(frozen=True)
class Join:
    """``alias``: the row reached from the part ``via`` through the relation ``name`` of
    ``via``'s model: a forward foreign key or one-to-one field, or the reverse side of a
    one-to-one field. A LEFT JOIN, so a missing row is None, as with select_related."""

    alias: str
    via: str
    name: str


class _Part:
    def __init__(self, model: type[models.Model], alias: str) -> None:
        self.model, self.alias = model, alias
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]
        self.pk_index = self.fields.index(model._meta.pk)
        # (column index, its expression, its converters), for the columns that have any
        self._converters: list[tuple[int, Any, list[Callable[..., Any]]]] | None = None

    def columns(self) -> str:
        q = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{q(str(f.column))}" for f in self.fields)

    def instance(self, values: Sequence[Any]) -> models.Model | None:
        if values[self.pk_index] is None:
            return None
        if self._converters is None:  # what the compiler would apply to each column
            self._converters = []
            for i, f in enumerate(self.fields):
                col = f.get_col(self.alias)
                converters = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
                if converters:
                    self._converters.append((i, col, converters))
        converted = list(values)
        for i, col, converters in self._converters:
            for convert in converters:
                converted[i] = convert(converted[i], col, connection)
        return self.model.from_db(connection.alias, self.attnames, converted)


class FixedSelect:
    """``SELECT <every column of every part> FROM <model> <alias> LEFT JOIN ... WHERE <where>``,
    built on first use. ``fetch(params)`` returns the base model's instances, related objects
    attached."""

    def __init__(
        self, model: type[models.Model], alias: str, joins: Sequence[Join], where: str
    ) -> None:
        self._model, self._alias, self._joins, self._where = model, alias, list(joins), where

    @cached_property
    def _plan(self) -> tuple[str, list[_Part], list[tuple[int, int, Any, bool]]]:
        q = connection.ops.quote_name
        parts = [_Part(self._model, self._alias)]
        index = {self._alias: 0}
        links: list[tuple[int, int, Any, bool]] = []  # (via part, part, relation, reverse)
        sql_joins = []
        for join in self._joins:
            via = parts[index[join.via]]
            relation = via.model._meta.get_field(join.name)
            reverse = isinstance(relation, models.OneToOneRel)
            model: Any
            on: tuple[Any, Any]
            if isinstance(relation, models.OneToOneRel):  # ``reverse``, narrowed for mypy
                field = relation.field  # on the joined model, pointing at ``via``
                model, on = field.model, (field.column, field.target_field.column)
            elif isinstance(relation, models.ForeignKey):  # OneToOneField included
                model, on = relation.related_model, (relation.target_field.column, relation.column)
            else:
                raise TypeError(f"{join.name} is not a foreign key or one-to-one relation")
            part = _Part(model, join.alias)
            index[join.alias] = len(parts)
            links.append((index[join.via], len(parts), relation, reverse))
            parts.append(part)
            sql_joins.append(
                f"LEFT JOIN {q(model._meta.db_table)} {join.alias} "
                f"ON {join.alias}.{q(str(on[0]))} = {via.alias}.{q(str(on[1]))}"
            )
        # Names come from the models' metadata and the callers' constants; values are always
        # parameters.
        select = ", ".join(p.columns() for p in parts)
        tables = f"{q(self._model._meta.db_table)} {self._alias} {' '.join(sql_joins)}"
        sql = f"SELECT {select} FROM {tables} WHERE {self._where}"  # noqa: S608
        return sql, parts, links

    @property
    def sql(self) -> str:
        return self._plan[0]

    def fetch(self, params: Sequence[Any]) -> list[Any]:
        """The instances of the base model, their related objects attached."""
        sql, parts, links = self._plan
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        found = []
        for row in rows:
            instances, start = [], 0
            for part in parts:
                instances.append(part.instance(row[start : start + len(part.fields)]))
                start += len(part.fields)
            for via_i, part_i, relation, reverse in links:
                via, obj = instances[via_i], instances[part_i]
                if via is None:
                    continue
                relation.set_cached_value(via, obj)  # a reverse one-to-one caches None too
                if reverse and obj is not None:
                    relation.field.set_cached_value(obj, via)
            found.append(instances[0])
        return found
