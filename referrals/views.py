"""Browser pages for referrals. Thin: each reads through a selector and writes through a
service; a refused step (an illegal transition, a claim someone else won) is shown as a
clear message on the page, never a 500."""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from caretrust.audit import services as audit
from caretrust.directory.access import agency_required
from caretrust.directory.models import Membership, Role
from caretrust.people.forms import PersonRegistrationForm
from caretrust.people.selectors import get_visible_person
from caretrust.people.services import DuplicateNhsNumber
from caretrust.people.validators import normalise_nhs_number, whole_number
from referrals import discharge, forms, outcomes, selectors, services
from referrals.models import Action, Need, RuleSet, Service, Source, Status, Urgency

PUBLIC_LIMIT = 5  # public referrals per address per hour
PUBLIC_WINDOW = 60 * 60


def _agency(request: HttpRequest) -> Any:
    return request.agency  # type: ignore[attr-defined]


def _roles(request: HttpRequest) -> frozenset[str]:
    return request.roles  # type: ignore[attr-defined]


def _add_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- Queues and dashboards --------------------------------------------------------------------


@agency_required
def home(request: HttpRequest) -> HttpResponse:
    """The agency's services with what is due, overdue and the share met within target."""
    agency = _agency(request)
    boards = selectors.team_dashboard(user=request.user, agency=agency)
    notices = selectors.notifications_for(request.user)
    return render(request, "referrals/home.html", {"boards": boards, "notices": notices})


@agency_required
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    agency = _agency(request)
    service = selectors.services_of(agency).filter(slug=slug).first()
    if service is None:
        raise Http404("No such service.")
    view = request.GET.get("view", "waiting")
    if view not in selectors.QUEUE_VIEWS:
        view = "waiting"
    page = selectors.team_queue(
        user=request.user, agency=agency, service=service, view=view, page=request.GET.get("page")
    )
    return render(
        request,
        "referrals/queue.html",
        {"service": service, "page": page, "view": view, "views": list(selectors.QUEUE_VIEWS)},
    )


@agency_required
def sent(request: HttpRequest) -> HttpResponse:
    page = selectors.sent_referrals(
        user=request.user, agency=_agency(request), page=request.GET.get("page")
    )
    return render(request, "referrals/sent.html", {"page": page})


# --- One referral -----------------------------------------------------------------------------


@agency_required
def referral_detail(request: HttpRequest, referral_id: str) -> HttpResponse:
    agency = _agency(request)
    referral = selectors.get_visible_referral(
        user=request.user, agency=agency, referral_id=referral_id
    )
    receiving = referral.agency_id == agency.pk
    problems: list[str] = []
    if receiving and referral.case_file is not None and referral.status == Status.RECEIVED:
        person = referral.case_file.person
        problems = services.eligibility_problems(
            referral.service,
            age=referral.age_at_referral,
            setting=referral.setting,
            medically_stable=referral.medically_stable,
            gp_practice_id=person.gp_practice_id,
            postcode=person.postcode,
        )
    team_staff = (
        Membership.objects.current()
        .filter(agency=agency, role__in=services.TRIAGE_ROLES - {Role.PARTNER_SYSTEM})
        .select_related("user")
        .order_by("user__last_name")
        if receiving
        else []
    )
    context = {
        "referral": referral,
        "receiving": receiving,
        "referring": referral.referring_agency_id == agency.pk,
        "transitions": selectors.transitions_of(referral),
        "clock": selectors.episode_clock(referral),
        "problems": problems,
        "decline_form": forms.DeclineForm(),
        "redirect_form": forms.RedirectForm(),
        "withdraw_form": forms.WithdrawForm(),
        "end_form": forms.EndEpisodeForm(),
        "verify_form": forms.VerifyForm(),
        "staff": [m.user for m in team_staff],
        "is_manager": Role.TEAM_MANAGER in _roles(request),
    }
    return render(request, "referrals/detail.html", context)


ACTIONS: dict[str, Callable[..., Any]] = {}


def _action(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        ACTIONS[name] = fn
        return fn

    return register


@_action("claim")
def _claim(request: HttpRequest, referral: Any, agency: Any) -> str:
    services.claim_referral(referral=referral, agency=agency, by=request.user)
    return "You have claimed this referral."


@_action("release")
def _release(request: HttpRequest, referral: Any, agency: Any) -> str:
    services.release_referral(referral=referral, agency=agency, by=request.user)
    return "The referral is back in the team's queue."


@_action("assign")
def _assign(request: HttpRequest, referral: Any, agency: Any) -> str:
    raw = request.POST.get("to", "")
    user_id = whole_number(raw)
    to = (
        Membership.objects.current().filter(agency=agency, user_id=user_id).first()
        if user_id is not None
        else None
    )
    if to is None:
        raise ValidationError("Choose a worker of your agency.")
    services.assign_referral(referral=referral, agency=agency, by=request.user, to=to.user)
    return f"Assigned to {to.user.get_full_name() or to.user.get_username()}."


@_action("accept")
def _accept(request: HttpRequest, referral: Any, agency: Any) -> str:
    services.accept_referral(referral=referral, agency=agency, by=request.user)
    return "The referral is accepted."


@_action("decline")
def _decline(request: HttpRequest, referral: Any, agency: Any) -> str:
    form = forms.DeclineForm(request.POST)
    if not form.is_valid():
        raise ValidationError("Choose a reason for declining.")
    services.decline_referral(
        referral=referral, agency=agency, by=request.user, **form.cleaned_data
    )
    return "The referral is declined; the referrer can see why."


@_action("redirect")
def _redirect(request: HttpRequest, referral: Any, agency: Any) -> str:
    form = forms.RedirectForm(request.POST)
    if not form.is_valid():
        raise ValidationError("Choose the service to redirect to, and say why.")
    services.redirect_referral(
        referral=referral, agency=agency, by=request.user, **form.cleaned_data
    )
    return "The referral is redirected."


@_action("withdraw")
def _withdraw(request: HttpRequest, referral: Any, agency: Any) -> str:
    form = forms.WithdrawForm(request.POST)
    if not form.is_valid():
        raise ValidationError("Say why the referral is withdrawn.")
    services.withdraw_referral(
        referral=referral, agency=agency, by=request.user, reason=form.cleaned_data["reason"]
    )
    return "The referral is withdrawn."


@_action("start")
def _start(request: HttpRequest, referral: Any, agency: Any) -> str:
    services.start_episode(referral=referral, agency=agency, by=request.user)
    return "The episode has started."


@_action("end")
def _end(request: HttpRequest, referral: Any, agency: Any) -> str:
    form = forms.EndEpisodeForm(request.POST)
    if not form.is_valid():
        raise ValidationError("Choose the outcome of the episode.")
    data = form.cleaned_data
    services.end_episode(
        referral=referral,
        agency=agency,
        by=request.user,
        outcome=data["outcome"],
        ended_on=data.get("ended_on"),
        handover_to=data.get("handover_to"),
        assessment_id=data.get("assessment_id"),
    )
    return "The episode has ended."


@_action("verify")
def _verify(request: HttpRequest, referral: Any, agency: Any) -> str:
    try:
        nhs_number = normalise_nhs_number(request.POST.get("nhs_number", ""))
    except ValidationError as exc:
        raise ValidationError(f"NHS number: {exc.messages[0]}") from None
    submitted = dict(referral.submitted_person)
    new_person = {
        k: submitted[k]
        for k in (
            "given_name",
            "family_name",
            "date_of_birth",
            "address_line_1",
            "town",
            "postcode",
        )
        if k in submitted
    }
    services.verify_referral(
        referral=referral,
        agency=agency,
        by=request.user,
        nhs_number=nhs_number,
        new_person=new_person,
    )
    return "The referral is matched to the person."


@require_POST
@agency_required
def referral_action(request: HttpRequest, referral_id: str, action: str) -> HttpResponse:
    """One triage step. A refusal (an illegal step, someone else's claim, bad input) rolls back
    whatever the step began and is shown as a message: nothing is half-done."""
    agency = _agency(request)
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("No such action.")
    referral = selectors.get_visible_referral(
        user=request.user, agency=agency, referral_id=referral_id, purpose=action
    )
    try:
        with transaction.atomic():
            done = handler(request, referral, agency)
    except (services.IllegalTransition, services.AlreadyClaimed) as exc:
        messages.error(request, str(exc))
        response = redirect("referrals:detail", referral_id=referral.pk)
        response.status_code = 303
        return response
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except DuplicateNhsNumber as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("referrals:detail", referral_id=referral.pk)


# --- Making a referral ------------------------------------------------------------------------


@agency_required
def new_referral(request: HttpRequest, person_id: str | None = None) -> HttpResponse:
    """Refer a person already visible to the agency, or register them in the same step."""
    agency = _agency(request)
    person = (
        get_visible_person(user=request.user, agency=agency, person_id=person_id, purpose="refer")
        if person_id
        else None
    )
    form = forms.ReferralForm(request.POST or None)
    person_form = (
        PersonRegistrationForm(request.POST or None, prefix="person") if person is None else None
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and (person_form is None or person_form.is_valid())
    ):
        data = form.cleaned_data
        try:
            referral = services.make_referral(
                agency=agency,
                by=request.user,
                person=person,
                new_person=dict(person_form.cleaned_data) if person_form else None,
                source=data["source"],
                reason=data["reason"],
                needs=data["needs"],
                urgency=data["urgency"],
                setting=data["setting"],
                medically_stable=data["medically_stable"],
                service=data["service"],
                consent=services.ConsentAtReferral() if data["consent"] else None,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Referral {referral.reference} sent to {referral.service}.")
            return redirect("referrals:detail", referral_id=referral.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "referrals/new.html",
        {"form": form, "person": person, "person_form": person_form},
        status=status,
    )


def public_referral(request: HttpRequest) -> HttpResponse:
    """The public self/family referral form: no sign-in, a few per address per hour, a
    honeypot field, and the same thank-you whatever is known about the person."""
    form = forms.PublicReferralForm(request.POST or None)
    if request.method == "POST":
        address = request.META.get("REMOTE_ADDR", "unknown")
        key = f"referrals:public:{address}"
        cache.add(key, 0, PUBLIC_WINDOW)
        try:
            count = cache.incr(key)
        except ValueError:
            count = 1
        if count > PUBLIC_LIMIT:
            return render(request, "referrals/public_limited.html", status=429)
        if form.is_valid():
            data = form.cleaned_data
            if data.get("website"):
                # A bot filled in the hidden field: thank it and keep nothing.
                return render(request, "referrals/public_thanks.html", {"reference": None})
            try:
                referral = services.submit_public_referral(
                    source=data["source"],
                    person={
                        k: data[k]
                        for k in (
                            "given_name",
                            "family_name",
                            "date_of_birth",
                            "address_line_1",
                            "town",
                            "postcode",
                        )
                    },
                    reason=data["reason"],
                    needs=data["needs"],
                    urgency=data["urgency"],
                    referrer_name=data["referrer_name"],
                    referrer_phone=data["referrer_phone"],
                    referrer_email=data["referrer_email"],
                    referrer_relationship=data["referrer_relationship"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return render(
                    request, "referrals/public_thanks.html", {"reference": referral.reference}
                )
    status = 400 if request.method == "POST" else 200
    return render(request, "referrals/public.html", {"form": form}, status=status)


@agency_required
def person_panel(request: HttpRequest, person_id: str) -> HttpResponse:
    agency = _agency(request)
    person = get_visible_person(
        user=request.user, agency=agency, person_id=person_id, purpose="referrals_panel"
    )
    rows = selectors.person_referrals(user=request.user, agency=agency, person_id=person.pk)
    return render(request, "referrals/_person_panel.html", {"person": person, "referrals": rows})


@agency_required
def notifications(request: HttpRequest) -> HttpResponse:
    notices = selectors.notifications_for(request.user)
    if request.method == "POST":
        services.mark_notifications_read(user=request.user)
        return redirect("referrals:notifications")
    return render(request, "referrals/notifications.html", {"notices": notices})


# --- The service catalogue (agency administrators) --------------------------------------------


def _require_admin(request: HttpRequest) -> None:
    if Role.AGENCY_ADMINISTRATOR not in _roles(request):
        raise PermissionDenied("Only an agency administrator can change this.")


@agency_required
def catalogue(request: HttpRequest) -> HttpResponse:
    agency = _agency(request)
    return render(
        request,
        "referrals/catalogue.html",
        {
            "services": selectors.services_of(agency),
            "is_admin": Role.AGENCY_ADMINISTRATOR in _roles(request),
        },
    )


@agency_required
def service_edit(request: HttpRequest, slug: str) -> HttpResponse:
    agency = _agency(request)
    _require_admin(request)
    service = selectors.services_of(agency).filter(slug=slug).first()
    if service is None:
        raise Http404("No such service.")
    form = forms.ServiceForm(
        request.POST or None,
        instance=Service.objects.get(pk=service.pk),
        initial={"districts": " ".join(service.postcode_districts)},
    )
    form.fields["settings"] = forms.SERVICE_SETTINGS_FIELD
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        districts = data.pop("districts", "") or ""
        data["postcode_districts"] = districts.split()
        try:
            services.update_service(
                service=service,
                expected_version=_form_version(request),
                changes=data,
                agency=agency,
                by=request.user,
            )
        except services.StaleVersion:
            form.add_error(
                None, "Someone changed this service since you opened it: reload and try again."
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"{service.name} is updated.")
            return redirect("referrals:catalogue")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "referrals/service_edit.html", {"form": form, "service": service}, status=status
    )


# --- Routing rules ----------------------------------------------------------------------------


@agency_required
def rules(request: HttpRequest) -> HttpResponse:
    agency = _agency(request)
    _require_admin(request)
    sets = list(RuleSet.objects.select_related("fallback_service", "created_by")[:10])
    audit.record(
        Action.REFERRAL_LISTED, actor=request.user, agency=agency, detail={"view": "rules"}
    )
    shown = first_by_uuid_or_version(sets, request.GET.get("version"))
    rules_shown = services.rules_of(shown) if shown else []
    from referrals import routing

    warnings = routing.lint(rules_shown) if shown else []
    dry_run = None
    if shown is not None and request.GET.get("dry_run"):
        dry_run = services.dry_run_ruleset(ruleset=shown, agency=agency, by=request.user)
    return render(
        request,
        "referrals/rules.html",
        {
            "sets": sets,
            "shown": shown,
            "rules": rules_shown,
            "warnings": warnings,
            "dry_run": dry_run,
            "sources": Source.choices,
            "needs": Need.choices,
            "urgencies": Urgency.choices,
            "all_services": Service.objects.filter(active=True).order_by("name"),
        },
    )


def first_by_uuid_or_version(sets: list[RuleSet], version: str | None) -> RuleSet | None:
    number = whole_number(version)
    if number is not None:
        return next((s for s in sets if s.version == number), None)
    return next((s for s in sets if s.status == "published"), sets[0] if sets else None)


@require_POST
@agency_required
def rules_publish(request: HttpRequest, version: int) -> HttpResponse:
    agency = _agency(request)
    _require_admin(request)
    ruleset = RuleSet.objects.filter(version=version).first()
    if ruleset is None:
        raise Http404("No such rule set.")
    try:
        services.publish_ruleset(
            ruleset=ruleset,
            agency=agency,
            by=request.user,
            accept_warnings=bool(request.POST.get("accept_warnings")),
        )
    except ValidationError as exc:
        messages.error(request, "Not published: " + " ".join(exc.messages))
    else:
        messages.success(request, f"Routing rules version {version} are published.")
    return redirect(f"{reverse('referrals:rules')}?version={version}")


@require_POST
@agency_required
def rules_copy(request: HttpRequest, version: int) -> HttpResponse:
    """Start a new draft from a version, with one more rule from the form if given."""
    agency = _agency(request)
    _require_admin(request)
    source = RuleSet.objects.filter(version=version).select_related("fallback_service").first()
    if source is None:
        raise Http404("No such rule set.")
    rows = [
        {
            "name": r.name,
            "sources": list(r.sources),
            "urgencies": list(r.urgencies),
            "min_age": r.min_age,
            "max_age": r.max_age,
            "settings": list(r.settings),
            "postcode_districts": list(r.postcode_districts),
            "needs_any": list(r.needs_any),
            "service": r.service,
        }
        for r in source.rules.select_related("service").order_by("position")
    ]
    drop = request.POST.get("drop")
    dropped = whole_number(drop)
    if dropped is not None:
        rows = [r for i, r in enumerate(rows, start=1) if i != dropped]
    new_service = Service.objects.filter(slug=request.POST.get("service", "")).first()
    if new_service is not None:
        position = whole_number(request.POST.get("position")) or len(rows) + 1
        rows.insert(
            max(0, min(len(rows), position - 1)),
            {
                "name": request.POST.get("name", "") or "New rule",
                "sources": request.POST.getlist("sources"),
                "urgencies": request.POST.getlist("urgencies"),
                "needs_any": request.POST.getlist("needs_any"),
                "settings": request.POST.getlist("settings"),
                "postcode_districts": request.POST.get("postcode_districts", "").split(),
                "min_age": whole_number(request.POST.get("min_age")),
                "max_age": whole_number(request.POST.get("max_age")),
                "service": new_service,
            },
        )
    try:
        draft = services.draft_ruleset(
            agency=agency, by=request.user, fallback_service=source.fallback_service, rules=rows
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"{reverse('referrals:rules')}?version={version}")
    messages.success(request, f"Draft version {draft.version} is ready to check and publish.")
    return redirect(f"{reverse('referrals:rules')}?version={draft.version}")


def _form_version(request: HttpRequest) -> int:
    """The version an edit form was opened on (its hidden field); without a readable one,
    nothing is saved over a change the editor has not seen."""
    version = whole_number(request.POST.get("version"))
    if version is None:
        raise ValidationError("This form did not say which version it was opened on: reload it.")
    return version


# --- Hospital discharge -----------------------------------------------------------------------


@agency_required
def worklist(request: HttpRequest) -> HttpResponse:
    agency = _agency(request)
    rows = selectors.transfer_hub_worklist(user=request.user, agency=agency)
    weeks = selectors.long_stay_counts(user=request.user, agency=agency)
    return render(request, "referrals/worklist.html", {"rows": rows, "weeks": weeks})


@agency_required
def admit(request: HttpRequest, person_id: str) -> HttpResponse:
    agency = _agency(request)
    person = get_visible_person(
        user=request.user, agency=agency, person_id=person_id, purpose="admission"
    )
    form = forms.AdmissionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            stay = discharge.record_admission(
                agency=agency, by=request.user, person=person, **form.cleaned_data
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect("referrals:stay", stay_id=stay.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "referrals/admit.html", {"form": form, "person": person}, status=status)


@agency_required
def stay_detail(request: HttpRequest, stay_id: str) -> HttpResponse:
    agency = _agency(request)
    stay = selectors.get_visible_stay(user=request.user, agency=agency, stay_id=stay_id)
    holder = stay.case_file.agency_id == agency.pk
    ready_form = forms.ReadyDateForm(prefix="ready")
    stay_form = forms.StayForm(
        prefix="stay",
        initial={
            "pathway": stay.pathway,
            "delay_reason": stay.delay_reason.code if stay.delay_reason else None,
        },
    )
    discharge_form = forms.DischargeForm(prefix="discharge")
    if request.method == "POST":
        if not holder:
            raise PermissionDenied("Only the hospital that holds this stay can change it.")
        step = request.POST.get("step")
        try:
            with transaction.atomic():
                if step == "ready":
                    ready_form = forms.ReadyDateForm(request.POST, prefix="ready")
                    if not ready_form.is_valid():
                        raise ValidationError("Enter the discharge ready date as a date.")
                    discharge.review_ready_date(
                        stay=stay, agency=agency, by=request.user, **ready_form.cleaned_data
                    )
                elif step == "stay":
                    stay_form = forms.StayForm(request.POST, prefix="stay")
                    if not stay_form.is_valid():
                        raise ValidationError("Choose a pathway from 0 to 3 and a listed reason.")
                    discharge.update_stay(
                        stay=stay, agency=agency, by=request.user, **stay_form.cleaned_data
                    )
                elif step == "discharge":
                    discharge_form = forms.DischargeForm(request.POST, prefix="discharge")
                    if not discharge_form.is_valid():
                        raise ValidationError("Enter the discharge date as a date.")
                    discharge.record_discharge(
                        stay=stay, agency=agency, by=request.user, **discharge_form.cleaned_data
                    )
                else:
                    raise ValidationError("Unknown step.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return render(
                request,
                "referrals/stay.html",
                {
                    "stay": stay,
                    "holder": holder,
                    "delay": discharge.delay_days(stay),
                    "ready_form": ready_form,
                    "stay_form": stay_form,
                    "discharge_form": discharge_form,
                    "reviews": list(stay.reviews.select_related("by")),
                },
                status=400,
            )
        messages.success(request, "Saved.")
        return redirect("referrals:stay", stay_id=stay.pk)
    return render(
        request,
        "referrals/stay.html",
        {
            "stay": stay,
            "holder": holder,
            "delay": discharge.delay_days(stay),
            "ready_form": ready_form,
            "stay_form": stay_form,
            "discharge_form": discharge_form,
            "reviews": list(stay.reviews.select_related("by")),
        },
    )


# --- Outcomes ---------------------------------------------------------------------------------


@agency_required
def outcomes_page(request: HttpRequest, measure: str = "sources") -> HttpResponse:
    agency = _agency(request)
    report = outcomes.report(user=request.user, agency=agency, measure=measure)
    if request.GET.get("format") == "csv":
        audit.record(
            Action.OUTCOMES_EXPORTED,
            actor=request.user,
            agency=agency,
            detail={"measure": measure, "rows": len(report.rows)},
        )
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{measure}.csv"'
        writer = csv.writer(response)
        writer.writerow(report.columns)
        writer.writerows(report.rows)
        return response
    return render(
        request,
        "referrals/outcomes.html",
        {"report": report, "measures": outcomes.MEASURES, "measure": measure},
    )
