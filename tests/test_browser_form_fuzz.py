"""Whatever is typed into any form or search box of the browser app, the answer is a page (a
form error, a redirect, a refusal), never a server error (issue 16: "the same review for the
browser's forms and search").

The test does not list the forms by hand, so a new form is covered the day it is added: on the
demo area, it signs in as each demo account (and as nobody, for the public pages), follows the
links and htmx panels it is shown, and collects every form on every page it reaches. Each form
is then sent back with its own values except one field, which is replaced in turn by each
hostile value below, or left out. Every submission runs in a savepoint that is rolled back, so
one cannot change what the next one sees, and the signed-in session survives a logout form.

Left out of the crawl, on purpose: the Django admin (Django's own forms, for a handful of
administrators), the partner API and OAuth endpoints (tests/api/ fuzzes those), and the
sign-out link (it would end the crawl's session).
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, resolve

from caretrust.directory.models import Membership
from tests.test_seed_demo import NAMED_ACCOUNTS

# What people paste, mistype or send on purpose. OMIT is the field left out altogether.
OMIT = object()
HOSTILE: tuple[Any, ...] = (
    OMIT,
    "",
    "a\x00b",  # a NUL: PostgreSQL cannot store it in text
    "x" * 30_000,  # longer than any column but the narratives
    "9" * 5_000,  # a number no integer column holds
    "18446744073709551616",  # 2**64
    "-1",
    "²²²",  # digits str.isdigit() accepts and int() refuses
    "١٢٣",  # Arabic-Indic digits, which int() accepts
    "1e400",
    "2026-02-31",
)
# A choice (select, radio, checkbox) or a hidden field is not typed: what arrives is the
# page's own value, or whatever a tampered request sends instead.
NOT_A_CHOICE: tuple[Any, ...] = (OMIT, "a\x00b", "not-one-of-them", "²²²", "9" * 5_000)
UPLOADS: tuple[bytes, ...] = (
    b"",
    b"\x00\xff\xfe\x00 not text at all",
    b"date,description,amount\n2026-01-01,x," + b"9" * 400 + b"\n",
)

PAGES_PER_ROUTE = 2  # objects in different states can show different forms
PAGES_PER_ACCOUNT = 150
SKIPPED_PREFIXES = ("/admin/", "/api/", "/o/", "/logout/", "/static/", "/media/")

# Forms the crawl must reach: if it stops finding these, it is no longer testing the app.
MUST_REACH = {
    "login",
    "person_search",
    "person_register",
    "record_basis",
    "note_create",
    "section_edit",
    "section_sign",
    "referrals:public",
    "referrals:new_for",
    "referrals:action",
    "referrals:rules_copy",
    "referrals:service_edit",
    "budgets_statement",
}


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, value), in order
    files: list[str] = field(default_factory=list)
    editable: dict[str, str] = field(default_factory=dict)  # name -> "text" or "choice"


class _Forms(HTMLParser):
    """The forms of a page, with the values a browser would send, and the pages it links to
    (hrefs and htmx GET panels)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []
        self._submit_seen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if a.get("hx-get"):
            self.links.append(a["hx-get"])
        if tag == "form":
            target = a.get("hx-post") or a.get("action") or self.page
            method = "post" if a.get("hx-post") else (a.get("method") or "get").lower()
            self._form = Form(page=self.page, action=urljoin(self.page, target), method=method)
            self._submit_seen = False
            self.forms.append(self._form)
            return
        form = self._form
        if form is None or not a.get("name") or "disabled" in a:
            if tag == "select":
                self._select = None
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                form.files.append(name)
            elif kind in ("checkbox", "radio"):
                if "checked" in a or (kind == "radio" and name not in dict(form.fields)):
                    form.fields.append((name, a.get("value", "on")))
                form.editable[name] = "choice"
            elif kind in ("submit", "image"):
                if not self._submit_seen:  # the button a person presses first
                    form.fields.append((name, a.get("value", "")))
                    self._submit_seen = True
            else:
                form.fields.append((name, a.get("value", "")))
                if name != "csrfmiddlewaretoken":
                    form.editable[name] = "choice" if kind == "hidden" else "text"
        elif tag == "button" and a.get("type", "submit") == "submit":
            if not self._submit_seen:
                form.fields.append((name, a.get("value", "")))
                self._submit_seen = True
        elif tag == "select":
            self._select, self._select_value = name, None
        elif tag == "option" and self._select is not None:
            if self._select_value is None or "selected" in a:
                self._select_value = a.get("value", "")
        elif tag == "textarea":
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if form is None:
            return
        if tag == "select" and self._select is not None:
            form.fields.append((self._select, self._select_value or ""))
            form.editable[self._select] = "choice"
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            form.fields.append((self._textarea, "".join(self._text)))
            form.editable[self._textarea] = "text"
            self._textarea = None
        elif tag == "form":
            self._form = None


def _route(path: str) -> str | None:
    """The URL pattern's name (a page is one of a kind), or None if nothing serves the path."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.url_name == "no_such_page" or match.func.__name__ == "no_such_page":
        return None
    return match.view_name


def _crawl(client: Client, start: list[str]) -> Iterator[Form]:
    seen: set[str] = set()
    per_route: dict[str, int] = {}
    queue = list(start)
    pages = 0
    while queue and pages < PAGES_PER_ACCOUNT:
        url = queue.pop(0)
        parts = urlsplit(url)
        if parts.netloc not in ("", "testserver") or parts.path in seen:
            continue
        if parts.path.startswith(SKIPPED_PREFIXES):
            continue
        route = _route(parts.path)
        if route is None or per_route.get(route, 0) >= PAGES_PER_ROUTE:
            continue
        seen.add(parts.path)
        per_route[route] = per_route.get(route, 0) + 1
        response = client.get(url, follow=True)
        pages += 1
        assert response.status_code < 500, f"GET {url} answered {response.status_code}"
        if "text/html" not in response.get("Content-Type", ""):
            continue
        final = response.request["PATH_INFO"]
        parser = _Forms(final)
        parser.feed(response.content.decode())
        yield from parser.forms
        queue.extend(urljoin(final, link) for link in parser.links)


def _send(client: Client, form: Form, name: str, value: Any) -> tuple[int | None, str]:
    data: dict[str, Any] = {}
    for key, current in form.fields:
        data.setdefault(key, [])
        data[key].append(current)
    if name in form.files:
        data[name] = SimpleUploadedFile("statement.csv", value, content_type="text/csv")
    elif value is OMIT:
        data.pop(name, None)
    else:
        data[name] = [value]
    for other in form.files:
        if other != name:
            data[other] = SimpleUploadedFile("statement.csv", UPLOADS[-1], content_type="text/csv")
    cookies = copy.deepcopy(client.cookies)
    cache.clear()  # rate limits would answer 429 before the form is read
    try:
        with transaction.atomic():
            if form.method == "post":
                response = client.post(form.action, data, HTTP_HX_REQUEST="true")
            else:
                response = client.get(form.action, data)
            transaction.set_rollback(True)
        return response.status_code, ""
    except Exception as error:  # the test client re-raises what became a 500
        return None, "".join(traceback.format_exception_only(error)).strip()
    finally:
        client.cookies = cookies


def _targets(form: Form) -> Iterator[tuple[str, tuple[Any, ...]]]:
    for name, kind in form.editable.items():
        yield name, HOSTILE if kind == "text" else NOT_A_CHOICE
    for name in form.files:
        yield name, UPLOADS


def _accounts() -> list[str | None]:
    """Nobody (the public pages), the named demo accounts, and one account for each other
    role the demo has, so that pages only some roles see (an agency administrator's catalogue
    and routing rules, say) are reached too."""
    accounts: list[str | None] = [None, *NAMED_ACCOUNTS]
    roles_seen: set[str] = set()
    for m in Membership.objects.current().select_related("user").order_by("user__username"):
        if m.user.username in NAMED_ACCOUNTS:
            roles_seen.add(m.role)
    for m in Membership.objects.current().select_related("user").order_by("user__username"):
        if m.role not in roles_seen and m.user.username not in accounts:
            roles_seen.add(m.role)
            accounts.append(m.user.username)
    return accounts


def _described(value: Any) -> str:
    if value is OMIT:
        return "(left out)"
    text = repr(value)
    return text if len(text) < 40 else f"{text[:20]}… ({len(value)} chars)"


@pytest.mark.django_db
def test_no_form_or_search_answers_a_server_error() -> None:
    call_command("seed_demo", verbosity=0)
    accounts = _accounts()
    failures: list[str] = []
    reached: set[str] = set()
    sent = 0
    tried: set[tuple[str, str, tuple[str, ...]]] = set()
    for username in accounts:
        client = Client()
        start = ["/login/", "/refer-yourself/"]
        if username is not None:
            user = get_user_model().objects.get(username=username)
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            start = ["/", "/caseload/", "/people/", "/people/new/", "/referrals/"]
        for form in list(_crawl(client, start)):
            route = _route(urlsplit(form.action).path)
            if route is None:
                failures.append(f"{form.page}: a form posts to {form.action}, which is no page")
                continue
            key = (route, form.method, tuple(sorted([*form.editable, *form.files])))
            if key in tried:  # the same form on another object, or for another account
                continue
            tried.add(key)
            reached.add(route)
            for name, values in _targets(form):
                for value in values:
                    status, error = _send(client, form, name, value)
                    sent += 1
                    if status is None or status >= 500:
                        failures.append(
                            f"{username or 'anonymous'}: {form.method.upper()} {form.action} "
                            f"with {name}={_described(value)} -> {status or 500} {error}"
                        )
    print(f"{sent} submissions to {len(tried)} forms as {accounts}; reached {sorted(reached)}")
    assert not failures, "\n".join(failures)
    assert reached >= MUST_REACH, f"the crawl no longer reaches {MUST_REACH - reached}"
