"""Sharing bases in the admin are for looking, not changing: every change to who may see what
goes through the sharing services (and so through the projection and the audit trail).

The admin shows the governance facts of a basis (kind, agencies, data classes, status,
dates) and never whom it is about: no person, no names, no free text (reasons, notes), which
could identify someone or carry clinical detail. Those are read in the app, through the
visibility rule (the person page's sharing panel, the Caldicott guardian's queue)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from caretrust.admin_site import AuditedAdmin
from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.sharing.models import BreakGlassReview, NeedToKnow, SharingBasis, StatusChange


class ReadOnlyAdmin(AuditedAdmin):
    def lookup_allowed(self, lookup: str, value: str, request: Any = None) -> bool:
        # Only the sidebar's filters. Django otherwise accepts a filter on any field in the
        # query string (?person=<id>, ?reason__icontains=...), and the count of the answer
        # would tell what the pages themselves never show.
        field = lookup.split("__")[0]
        allowed = {f for f in self.list_filter if isinstance(f, str)}  # plain field names only
        return field in allowed and bool(super().lookup_allowed(lookup, value, request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    extra = 0
    can_delete = False
    fields = ("from_status", "to_status", "changed_at", "changed_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SharingBasis)
class SharingBasisAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "provision",
        "status",
        "holding_agency",
        "recipient_agency",
        "period_start",
        "period_end",
        "review_on",
    ]
    list_filter = ["kind", "provision", "status", "holding_agency", "recipient_agency"]
    list_select_related = ["holding_agency", "recipient_agency"]
    fields = [
        "kind",
        "provision",
        "purpose",
        "status",
        "holding_agency",
        "recipient_agency",
        "data_classes",
        "period_start",
        "period_end",
        "review_on",
        "grantor",
        "evidence",
        "recorded_by",
        "recorded_at",
    ]
    inlines = [StatusChangeInline]
    show_full_result_count = False


@admin.register(BreakGlassReview)
class BreakGlassReviewAdmin(ReadOnlyAdmin):
    list_display = ["basis", "guardian_agency", "alerted_at", "reviewed_at", "outcome"]
    list_filter = ["guardian_agency", "outcome"]
    fields = ["basis", "guardian_agency", "alerted_at", "reviewed_at", "reviewed_by", "outcome"]
    list_select_related = ["basis__holding_agency", "basis__recipient_agency", "guardian_agency"]


@admin.register(NeedToKnow)
class NeedToKnowAdmin(AuditedAdmin):
    """Need to know is configuration, not anyone's data: an administrator adds, changes and
    removes an agency's rows here (each change audited), and the next request counts it."""

    list_display = ["agency", "role", "data_class", "restricted_items"]
    list_filter = ["agency", "role", "data_class", "restricted_items"]
    list_editable = ["restricted_items"]
    list_select_related = ["agency"]

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            audit.record(
                Action.ADMIN_CHANGE,
                actor=request.user,
                obj=obj,
                detail={"model": self.model._meta.label, "deleted": str(obj)},
            )
        return super().log_deletions(request, queryset)
