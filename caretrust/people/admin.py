from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from caretrust.admin_site import AuditedAdmin
from caretrust.people.models import CarerLink, CaseFile, Person


class NoDeleteMixin:
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(NoDeleteMixin, AuditedAdmin):
    list_display = ["family_name", "given_name", "nhs_number", "date_of_birth", "postcode"]
    search_fields = ["=nhs_number", "family_name"]
    list_select_related = ["gp_practice"]
    show_full_result_count = False


@admin.register(CaseFile)
class CaseFileAdmin(NoDeleteMixin, AuditedAdmin):
    list_display = ["person", "agency", "lead_worker", "opened_on", "closed_on"]
    list_filter = ["agency"]
    list_select_related = ["person", "agency", "lead_worker"]
    raw_id_fields = ["person", "lead_worker"]


@admin.register(CarerLink)
class CarerLinkAdmin(NoDeleteMixin, AuditedAdmin):
    list_display = ["carer", "person", "relationship", "hours_per_week"]
    list_select_related = ["carer", "person"]
    raw_id_fields = ["person", "carer"]
