"""Sections that other apps add to a person's page, without the people app importing them.

An app registers a panel in its ``AppConfig.ready`` with the name of one of its own views,
which takes the person's id and renders the section (through that app's selectors, so through
the visibility rule, audited). The person page loads each with htmx, and links to it for a
browser without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PersonPanel:
    title: str
    url_name: str  # a view taking ``person_id``; it answers 404 for a person not visible
    # The data class the section shows: the page leaves it out for a role that does not need
    # it (the view applies the rule anyway; this only spares an empty section).
    data_class: str = ""


PANELS: list[PersonPanel] = []


def register_person_panel(*, title: str, url_name: str, data_class: str = "") -> None:
    if all(p.url_name != url_name for p in PANELS):
        PANELS.append(PersonPanel(title=title, url_name=url_name, data_class=data_class))
