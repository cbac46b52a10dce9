from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from caretrust.admin_site import AuditedAdmin
from caretrust.directory import services
from caretrust.directory.models import Agency, Membership, Team


@admin.register(Agency)
class AgencyAdmin(AuditedAdmin):
    list_display = ["name", "kind", "ods_code", "slug"]
    list_filter = ["kind"]
    search_fields = ["name", "ods_code", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["slug"] if obj else []

    def save_model(self, request: HttpRequest, obj: Agency, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            created = services.create_agency(
                name=obj.name, slug=obj.slug, kind=obj.kind, ods_code=obj.ods_code, by=request.user
            )
            obj.pk, obj.group = created.pk, created.group

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["name", "agency"]
    list_filter = ["agency"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    """Memberships are added and ended through the directory services, which keep each
    agency's group in step; they are never edited in place or deleted."""

    list_display = ["user", "agency", "role", "team", "started_at", "ended_at"]
    list_filter = ["agency", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user"]
    actions = ["end_memberships"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["user", "agency", "role", "team", "started_at", "ended_at"] if obj else []

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:
            return
        created = services.add_membership(
            user=obj.user, agency=obj.agency, role=obj.role, team=obj.team, by=request.user
        )
        obj.pk = created.pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="End the selected memberships")
    def end_memberships(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in Membership.objects.current().filter(pk__in=queryset):
            services.end_membership(membership=membership, by=request.user)
        self.message_user(request, "Memberships ended.", messages.SUCCESS)
