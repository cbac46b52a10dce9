"""The Django admin is for superusers only, and every page of people's data it shows is
audited like any other read."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from caretrust.audit import services as audit
from caretrust.audit.models import Action


def _superuser_only(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


admin.site.has_permission = _superuser_only  # type: ignore[method-assign]


class AuditedAdmin(admin.ModelAdmin):
    """Records each admin list and each record opened, with the ids shown."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        shown = getattr(getattr(response, "context_data", None) or {}, "get", lambda _k: None)("cl")
        ids = [str(obj.pk) for obj in shown.result_list] if shown is not None else []
        audit.record(
            Action.ADMIN_VIEW,
            actor=request.user,
            detail={"model": self.model._meta.label, "list": ids},
        )
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        audit.record(
            Action.ADMIN_VIEW,
            actor=request.user,
            detail={"model": self.model._meta.label, "id": object_id},
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        audit.record(
            Action.ADMIN_CHANGE,
            actor=request.user,
            obj=obj,
            detail={"model": self.model._meta.label, "message": str(message)},
        )
        return super().log_change(request, obj, message)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        audit.record(
            Action.ADMIN_CHANGE,
            actor=request.user,
            obj=obj,
            detail={"model": self.model._meta.label, "added": True},
        )
        return super().log_addition(request, obj, message)
