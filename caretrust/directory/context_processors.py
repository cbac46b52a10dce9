from django.http import HttpRequest


def active_agency(request: HttpRequest) -> dict[str, object]:
    return {
        "active_agency": getattr(request, "agency", None),
        "agency_choices": getattr(request, "agency_choices", []),
        "is_caldicott_guardian": "caldicott_guardian" in getattr(request, "roles", ()),
    }
