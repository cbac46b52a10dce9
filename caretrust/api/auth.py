"""Who is calling the API, for which agency, with which scopes.

Partner systems use OAuth 2.0 client credentials (django-oauth-toolkit). A token carries no
user, so the client's ``PartnerClient`` supplies its service user and its one agency. Browser
users call the API with their session (CSRF enforced) and act for their active agency.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from django.http import HttpRequest
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

from caretrust.api.models import SCOPES, PartnerClient
from caretrust.fixed_select import FixedSelect, Join


class PartnerScopes(BaseScopes):
    """A client may ask only for the scopes it was given."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPES)

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        partner = PartnerClient.objects.filter(application=application).first()
        return list(partner.scopes) if partner and partner.is_active else []

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return self.get_available_scopes(application, request)


# A bearer token with its application, partner client, agency and service user: what
# select_related("application__partner__agency", "application__partner__service_user") loads,
# as one fixed statement (compiling that query cost more than a third of a request's CPU).
# The token's own user stays lazy: client-credentials tokens have none.
@functools.cache  # the token model is swappable: resolved on first use, once apps are loaded
def token_with_partner() -> FixedSelect:
    return FixedSelect(
        get_access_token_model(),
        "t",
        [
            Join("a", via="t", name="application"),
            Join("p", via="a", name="partner"),
            Join("g", via="p", name="agency"),
            Join("u", via="p", name="service_user"),
        ],
        where="t.token_checksum = %s",  # unique
    )


class PartnerValidator(OAuth2Validator):
    """Refuses revoked clients at the token endpoint, and loads a bearer token's partner
    client (its agency and service user) in the same query as the token."""

    def _load_access_token(self, token: str) -> Any:
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        return next(iter(token_with_partner().fetch([checksum])), None)

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        partner = PartnerClient.objects.filter(application=request.client).first()
        return bool(partner and partner.is_active)


class PartnerAuthentication(OAuth2Authentication):
    """A bearer token of an active partner client: acts as the client's service user, for its
    agency. Revoking the client ends every token at once."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        _, token = result
        # Loaded with the token (PartnerValidator._load_access_token): no second query.
        partner = getattr(token.application, "partner", None) if token.application else None
        if partner is None or not partner.is_active:
            raise exceptions.AuthenticationFailed("This client has been revoked.")
        _bind(request, agency=partner.agency, partner=partner)
        return partner.service_user, token


class AgencySessionAuthentication(SessionAuthentication):
    """A signed-in member of staff, acting for their active agency; CSRF is enforced."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        django_request: HttpRequest = request._request
        _bind(request, agency=getattr(django_request, "agency", None), partner=None)
        return result


def _bind(request: Any, *, agency: Any, partner: PartnerClient | None) -> None:
    for target in (request, request._request):
        target.agency = agency
        target.partner = partner


class ActsForAnAgency(BasePermission):
    """Every API call acts for exactly one agency: a member of staff without an active agency
    (none chosen, or none at all) is refused."""

    message = "Choose the agency you are working for before using the API."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and getattr(request, "agency", None) is not None
        )


class HasResourceScope(BasePermission):
    """A partner client needs ``<resource>:read`` to read and ``<resource>:write`` to write,
    where the view names its resource group. Staff sessions are limited by role instead."""

    message = "This client's token does not carry the scope this request needs."

    def has_permission(self, request: Any, view: Any) -> bool:
        if getattr(request, "partner", None) is None:
            return True
        access = "read" if request.method in ("GET", "HEAD", "OPTIONS") else "write"
        needed = f"{view.scope_group}:{access}"
        token = request.auth
        return bool(token is not None and token.allow_scopes([needed]))
