"""How the OpenAPI schema describes our authentication classes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from caretrust.api.models import SCOPES


class PartnerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "caretrust.api.auth.PartnerAuthentication"
    name = "partnerOAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "description": "OAuth 2.0 client credentials; each client is bound to one agency.",
            "flows": {"clientCredentials": {"tokenUrl": "/o/token/", "scopes": dict(SCOPES)}},
        }


class AgencySessionScheme(OpenApiAuthenticationExtension):
    target_class = "caretrust.api.auth.AgencySessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A signed-in member of staff, for their active agency; send "
            "the CSRF token in X-CSRFToken on writes.",
        }
