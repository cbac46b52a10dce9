"""The finance officer's pages: dashboard with its chart and table, drill-down, reconciliation,
exports (audited), month-end close with progress; outsiders get 404."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from budgets import services
from budgets.models import AccountKind, Period
from caretrust.audit.models import AuditEvent
from caretrust.directory import services as directory
from caretrust.directory.models import Role
from tests.conftest import signed_in
from tests.factories import UserFactory


@pytest.fixture
def fiona_client(fiona):
    return signed_in(fiona)


def url(pool, name=""):
    return f"/budgets/{pool.fund.pk}/{name}"


def test_the_dashboard_shows_chart_and_table_and_links_to_postings(pool, fiona_client):
    services.record_expenditure(line=pool.home_care, amount_pence=123_456, on=dt.date(2026, 4, 9))

    response = fiona_client.get(url(pool), {"year": 2026})

    body = response.content.decode()
    assert response.status_code == 200
    assert 'role="img"' in body and "<rect" in body
    assert "£1,234.56" in body
    assert f"?line={pool.home_care.pk}" in body
    assert 'data-testid="month-table"' in body


def test_an_outsider_and_a_care_manager_get_no_figures(pool, oscar_client, carol_client):
    assert oscar_client.get(url(pool)).status_code == 404
    assert carol_client.get(url(pool)).status_code == 404
    assert carol_client.get("/budgets/").status_code == 403
    assert AuditEvent.objects.filter(action="access.denied").count() == 2


def test_a_partners_finance_officer_sees_the_figures_but_cannot_close(pool, hugh):
    client = signed_in(hugh)
    april = Period.objects.get(fund=pool.fund, month=1)

    assert client.get(url(pool)).status_code == 200
    assert client.post(url(pool, f"periods/{april.pk}/close/")).status_code == 403
    april.refresh_from_db()
    assert april.status == "open"


def test_the_drill_down_lists_postings_in_a_fixed_number_of_queries(pool, fiona_client):
    spend = services.account(pool.fund, AccountKind.EXPENDITURE, line=pool.home_care)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert (
                fiona_client.get(url(pool, "postings/"), {"account": spend.pk}).status_code == 200
            )
        return len(ctx)

    services.record_expenditure(line=pool.home_care, amount_pence=100, on=dt.date(2026, 4, 9))
    queries()  # the first request of a session costs a few more (session, content types)
    few = queries()
    for n in range(20):
        services.record_expenditure(
            line=pool.home_care, amount_pence=100 + n, on=dt.date(2026, 4, 9)
        )
    assert queries() == few
    body = fiona_client.get(url(pool, "postings/"), {"account": spend.pk}).content.decode()
    assert body.count('<tr class="nhsuk-table__row">') == 21


def test_reconciliation_pages_answer(pool, fiona_client):
    for name in ("contributions/", "trial-balance/", "commitments/", "statement/", "year-end/"):
        assert fiona_client.get(url(pool, name)).status_code == 200, name


def test_an_xlsx_export_holds_the_figures_and_is_audited(pool, fiona_client, fiona):
    services.invoice_contribution(
        partner=pool.hospital, amount_pence=1_000_000, on=dt.date(2026, 4, 1)
    )

    response = fiona_client.get(url(pool, "export/contributions.xlsx"), {"year": 2026})

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Partner"
    assert [r[3] for r in rows[1:]] == [0, 10_000]
    assert AuditEvent.objects.filter(action="budgets.exported", actor_id=fiona.pk).count() == 1


def test_month_end_close_runs_as_a_job_and_shows_its_progress(
    pool, fiona_client, django_capture_on_commit_callbacks
):
    april = Period.objects.get(fund=pool.fund, month=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = fiona_client.post(url(pool, f"periods/{april.pk}/close/"))
    assert response.status_code == 302

    page = fiona_client.get(response["Location"])
    assert "100% done" in page.content.decode()
    april.refresh_from_db()
    assert april.status == "closed"
    again = fiona_client.post(url(pool, f"periods/{april.pk}/close/"))
    assert again["Location"] == response["Location"]
    partial = fiona_client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert partial.content.decode().lstrip().startswith('<div id="close-progress"')


def test_a_bad_statement_is_a_form_error(pool, fiona_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("s.csv", b"when,what\n1,2\n", content_type="text/csv")
    response = fiona_client.post(url(pool, "statement/"), {"file": upload})

    assert response.status_code == 200
    assert "The columns must be date, reference, amount" in response.content.decode()


def test_the_nav_shows_pooled_budgets_to_finance_roles_only(pool, fiona_client, carol_client):
    assert "Pooled budgets" in fiona_client.get("/budgets/").content.decode()
    assert "Pooled budgets" not in carol_client.get("/caseload/").content.decode()
    ian = UserFactory()
    directory.add_membership(user=ian, agency=pool.fund.host, role=Role.FINANCE_OFFICER)
    assert "Pooled budgets" in signed_in(ian).get("/budgets/").content.decode()
