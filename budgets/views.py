"""The finance officer's pages: the fund dashboard (chart and table), reconciliation, drill-down
to postings, exports, the statement import, the year-end risk share and month-end close.

Thin: every read is a selector (audited), every write a service. Only finance staff of a
partner agency see a fund; others get 404 as if it did not exist."""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from openpyxl import Workbook  # type: ignore[import-untyped]

from budgets import selectors, services
from budgets.models import (
    Account,
    AccountKind,
    CloseRun,
    JournalKind,
    Period,
    PeriodStatus,
    PooledFund,
    financial_year_of,
    year_label,
)
from budgets.selectors import whole_number
from budgets.templatetags.money import pounds
from caretrust.audit import services as audit
from caretrust.directory.access import agency_required
from caretrust.people.selectors import parse_uuid
from caretrust.people.validators import today_in_london


def _agency(request: HttpRequest) -> Any:
    return request.agency  # type: ignore[attr-defined]


def _roles(request: HttpRequest) -> Any:
    return request.roles  # type: ignore[attr-defined]


def _htmx(request: HttpRequest) -> bool:
    return bool(request.htmx)  # type: ignore[attr-defined]


def _fund(request: HttpRequest, fund_id: Any, purpose: str) -> PooledFund:
    return selectors.get_fund(
        user=request.user,
        agency=_agency(request),
        roles=_roles(request),
        fund_id=fund_id,
        purpose=purpose,
    )


def _year(request: HttpRequest) -> int:
    raw = request.GET.get("year", "")
    if 2000 <= whole_number(raw) <= 2100:
        return whole_number(raw)
    return financial_year_of(today_in_london())


def _years(fund: PooledFund) -> list[int]:
    return sorted(set(Period.objects.filter(fund=fund).values_list("year", flat=True)))


@agency_required
def fund_list(request: HttpRequest) -> HttpResponse:
    funds = list(selectors.visible_funds(agency=_agency(request), roles=_roles(request)))
    if not selectors.may_see_figures(_roles(request)):
        raise PermissionDenied("Pooled budgets are for finance officers and pool managers.")
    audit.record(
        "budgets.report_viewed",
        actor=request.user,
        agency=_agency(request),
        detail={"report": "funds", "funds": [f.pk for f in funds]},
    )
    return render(request, "budgets/fund_list.html", {"funds": funds})


CHART_W, CHART_H, CHART_PAD = 720, 260, 40


def _chart(reports: list[selectors.LineReport]) -> dict[str, Any]:
    """Bars per month (budget, actual, committed) for the whole fund, scaled to the chart."""
    months = []
    for i in range(12):
        budget = sum(r.months[i].budget_pence for r in reports if len(r.months) > i)
        actual = sum((r.months[i].actual_pence or 0) for r in reports if len(r.months) > i)
        committed = sum(max(r.months[i].committed_pence, 0) for r in reports if len(r.months) > i)
        label = (
            reports[0].months[i].period.starts_on.strftime("%b")
            if reports and len(reports[0].months) > i
            else ""
        )
        months.append((label, budget, actual, committed))
    top = max([max(b, a, c) for _, b, a, c in months] + [1])
    slot = (CHART_W - CHART_PAD) / 12
    bar = slot / 4
    bars = []
    for i, (_label, *values) in enumerate(months):
        x0 = CHART_PAD + i * slot
        for j, (value, cls) in enumerate(
            zip(values, ("budget", "actual", "committed"), strict=True)
        ):
            h = (CHART_H - 30) * value / top
            bars.append(
                {
                    "x": round(x0 + j * bar, 1),
                    "y": round(CHART_H - 20 - h, 1),
                    "w": round(bar - 1, 1),
                    "h": round(h, 1),
                    "cls": cls,
                }
            )
    labels = [
        {"x": round(CHART_PAD + i * slot + slot / 2 - bar / 2, 1), "text": m[0]}
        for i, m in enumerate(months)
    ]
    return {
        "bars": bars,
        "labels": labels,
        "top": top,
        "w": CHART_W,
        "h": CHART_H,
        "months": months,
        "axis_y": CHART_H - 20,
    }


@agency_required
def dashboard(request: HttpRequest, fund_id: str) -> HttpResponse:
    fund = _fund(request, fund_id, "dashboard")
    year = _year(request)
    reports = selectors.line_reports(fund, year)
    periods = list(Period.objects.filter(fund=fund, year=year).order_by("month"))
    context = {
        "fund": fund,
        "year": year,
        "year_label": year_label(year),
        "years": [(y, year_label(y)) for y in _years(fund)],
        "reports": reports,
        "chart": _chart(reports),
        "contributions": selectors.contributions(fund, year),
        "periods": periods,
        "next_to_close": next((p for p in periods if p.status == PeriodStatus.OPEN), None),
        "is_pool_manager": request.user.pk == fund.pool_manager_id,
        "totals": {
            "budget": sum(r.budget_pence for r in reports),
            "actual": sum(r.actual_pence for r in reports),
            "committed": sum(r.committed_pence for r in reports),
            "forecast": sum(r.forecast_pence for r in reports),
        },
    }
    return render(request, "budgets/dashboard.html", context)


def _int_or_404(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    number = whole_number(value)
    if not number:
        raise Http404("No such figure.")
    return number


@agency_required
def postings(request: HttpRequest, fund_id: str) -> HttpResponse:
    """Drill-down: the postings behind a figure (an account, a line, a period, a kind)."""
    fund = _fund(request, fund_id, "postings")
    account_ids: list[int] | None = None
    title = "All postings"
    account_id = _int_or_404(request.GET.get("account"))
    line_id = _int_or_404(request.GET.get("line"))
    if account_id is not None:
        account = get_object_or_404(Account, fund=fund, pk=account_id)
        account_ids, title = [account.pk], account.name
    elif line_id is not None:
        accts = list(
            Account.objects.filter(
                fund=fund,
                line_id=line_id,
                kind__in=[AccountKind.EXPENDITURE, AccountKind.CLIENT_CHARGES],
            )
        )
        if not accts:
            raise Http404("No such line.")
        account_ids, title = [a.pk for a in accts], f"{accts[0].line} (net expenditure)"
    period = None
    period_id = _int_or_404(request.GET.get("period"))
    if period_id is not None:
        period = get_object_or_404(Period, fund=fund, pk=period_id)
        title += f", {period}"
    kind = request.GET.get("kind") or None
    if kind and kind not in JournalKind.values:
        raise Http404("No such kind of journal.")
    rows = selectors.postings(fund, account_ids=account_ids, period=period, kind=kind)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    audit.record(
        "budgets.postings_viewed",
        actor=request.user,
        agency=_agency(request),
        obj=fund,
        detail={
            "account": account_id,
            "line": line_id,
            "period": period_id,
            "kind": kind,
            "page": page.number,
        },
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "budgets/postings.html",
        {"fund": fund, "page": page, "title": title, "query": query.urlencode()},
    )


@agency_required
def contributions(request: HttpRequest, fund_id: str) -> HttpResponse:
    fund = _fund(request, fund_id, "contributions")
    year = _year(request)
    rows = selectors.contributions(fund, year)
    return render(
        request,
        "budgets/contributions.html",
        {"fund": fund, "rows": rows, "year": year, "year_label": year_label(year)},
    )


@agency_required
def trial_balance(request: HttpRequest, fund_id: str) -> HttpResponse:
    fund = _fund(request, fund_id, "trial_balance")
    rows = selectors.trial_balance(fund)
    return render(
        request,
        "budgets/trial_balance.html",
        {
            "fund": fund,
            "rows": rows,
            "debits": sum(r.debit_pence for r in rows),
            "credits": sum(r.credit_pence for r in rows),
        },
    )


@agency_required
def commitments(request: HttpRequest, fund_id: str) -> HttpResponse:
    fund = _fund(request, fund_id, "aged_commitments")
    return render(
        request,
        "budgets/commitments.html",
        {"fund": fund, "rows": selectors.aged_commitments(fund)},
    )


class StatementForm(forms.Form):
    file = forms.FileField(
        label="Bank statement (CSV)",
        help_text="Columns: date (YYYY-MM-DD), reference, amount (pounds, money in positive).",
    )


@agency_required
def statement(request: HttpRequest, fund_id: str) -> HttpResponse:
    fund = _fund(request, fund_id, "statement")
    form = StatementForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        selectors.require_host_writer(fund, _agency(request))
        upload = form.cleaned_data["file"]
        try:
            content = upload.read().decode("utf-8-sig")
            result = services.import_statement(
                fund=fund,
                filename=upload.name,
                content=content,
                by=request.user,
                agency=_agency(request),
            )
        except UnicodeDecodeError:
            form.add_error("file", "The file must be CSV text (UTF-8).")
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("file", message)
    return render(
        request,
        "budgets/statement.html",
        {
            "fund": fund,
            "form": form,
            "result": result,
            "lines": list(result.lines.select_related("matched__journal")) if result else [],
        },
    )


@agency_required
def year_end(request: HttpRequest, fund_id: str) -> HttpResponse:
    fund = _fund(request, fund_id, "year_end")
    year = _year(request)
    error = None
    posted = None
    if request.method == "POST":
        try:
            posted = services.approve_settlement(
                fund=fund, year=year, by=request.user, agency=_agency(request)
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    shares: dict[int, dict[int, int]] = {}
    try:
        shares = services.risk_share(fund, year)
    except ValidationError as exc:
        error = error or " ".join(exc.messages)
    partners = list(fund.partners.select_related("agency").order_by("id"))
    rows = []
    for line in fund.lines.order_by("id"):
        per = shares.get(line.pk, {})
        rows.append(
            {
                "line": line,
                "variance": services.line_variance(line, year),
                "shares": [per.get(p.pk, 0) for p in partners],
            }
        )
    return render(
        request,
        "budgets/year_end.html",
        {
            "fund": fund,
            "year": year,
            "year_label": year_label(year),
            "partners": partners,
            "rows": rows,
            "error": error,
            "posted": posted,
            "is_pool_manager": request.user.pk == fund.pool_manager_id,
        },
    )


@require_POST
@agency_required
def close_period(request: HttpRequest, fund_id: str, period_id: str) -> HttpResponse:
    fund = _fund(request, fund_id, "close")
    period = get_object_or_404(Period, fund=fund, pk=_int_or_404(period_id))
    try:
        run = services.start_close(period=period, by=request.user, agency=_agency(request))
    except ValidationError as exc:
        return render(
            request,
            "budgets/close.html",
            {"fund": fund, "period": period, "error": " ".join(exc.messages)},
            status=400,
        )
    return redirect(reverse("budgets_close_run", args=[fund.pk, run.pk]))


@agency_required
def close_run(request: HttpRequest, fund_id: str, run_id: str) -> HttpResponse:
    fund = _fund(request, fund_id, "close_progress")
    run = get_object_or_404(
        CloseRun.objects.select_related("period"), period__fund=fund, pk=_int_or_404(run_id)
    )
    template = "budgets/_close_progress.html" if _htmx(request) else "budgets/close.html"
    return render(request, template, {"fund": fund, "run": run, "period": run.period})


# --- exports ----------------------------------------------------------------------------------


def _export_rows(fund: PooledFund, report: str, year: int) -> tuple[list[str], list[list[Any]]]:
    if report == "lines":
        head = ["Line", "Month", "Budget (£)", "Actual (£)", "Committed (£)", "Forecast (£)"]
        rows = [
            [
                r.line.name,
                str(m.period),
                m.budget_pence / 100,
                None if m.actual_pence is None else m.actual_pence / 100,
                m.committed_pence / 100,
                m.forecast_pence / 100,
            ]
            for r in selectors.line_reports(fund, year)
            for m in r.months
        ]
        return head, rows
    if report == "contributions":
        head = ["Partner", "Agreed (£)", "Due (£)", "Invoiced (£)", "Received (£)", "Behind (£)"]
        rows = [
            [
                r.agency.name,
                r.agreed_pence / 100,
                r.due_pence / 100,
                r.invoiced_pence / 100,
                r.received_pence / 100,
                r.behind_pence / 100,
            ]
            for r in selectors.contributions(fund, year)
        ]
        return head, rows
    if report == "trial-balance":
        head = ["Account", "Debits (£)", "Credits (£)", "Net (£)"]
        rows = [
            [r.account.name, r.debit_pence / 100, r.credit_pence / 100, r.net_pence / 100]
            for r in selectors.trial_balance(fund)
        ]
        return head, rows
    raise Http404("No such report.")


@agency_required
def export(request: HttpRequest, fund_id: str, report: str, fmt: str) -> HttpResponse:
    """A report as CSV or XLSX (openpyxl); every export is audited."""
    fund = _fund(request, fund_id, f"export_{report}")
    if fmt not in ("csv", "xlsx"):
        raise Http404("No such format.")
    year = _year(request)
    head, rows = _export_rows(fund, report, year)
    audit.record(
        "budgets.exported",
        actor=request.user,
        agency=_agency(request),
        obj=fund,
        detail={"report": report, "format": fmt, "year": year, "rows": len(rows)},
    )
    name = f"{fund.slug}-{report}-{year}.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(head)
        writer.writerows(rows)
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = report[:30]
        sheet.append(head)
        for row in rows:
            sheet.append(row)
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, float):
                    cell.number_format = "#,##0.00"
        buffer = io.BytesIO()
        book.save(buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@agency_required
def person_charges(request: HttpRequest, person_id: str) -> HttpResponse:
    """The person page's panel: their client charges, through the finance visibility rule."""
    from caretrust.people.selectors import get_visible_person

    person = get_visible_person(
        user=request.user,
        agency=_agency(request),
        person_id=person_id,
        purpose="charges",
        audit_view=False,
    )
    if parse_uuid(person_id) is None:
        raise Http404("No such person.")
    charges = selectors.person_charges(
        user=request.user,
        agency=_agency(request),
        person_id=person.pk,
    )
    return render(request, "budgets/_person_charges.html", {"charges": charges})


__all__ = ["pounds"]
