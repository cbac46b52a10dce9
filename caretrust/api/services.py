"""Creating and revoking partner clients."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from oauth2_provider.models import AccessToken, Application, RefreshToken

from caretrust.api.models import SCOPES, PartnerClient
from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory import services as directory
from caretrust.directory.models import Agency, Role


@dataclass(frozen=True)
class NewClient:
    partner: PartnerClient
    client_id: str
    client_secret: str


def create_partner_client(
    *,
    agency: Agency,
    name: str,
    scopes: Iterable[str],
    by: Any = None,
    client_secret: str | None = None,
    client_id: str | None = None,
) -> NewClient:
    """Register a partner system for one agency. The secret is returned once, here; only its
    hash is stored."""
    chosen = sorted(set(scopes))
    unknown = [sc for sc in chosen if sc not in SCOPES]
    if unknown or not chosen:
        raise ValidationError(
            f"Unknown or missing scopes {unknown}; choose from: {', '.join(SCOPES)}."
        )
    if not name.strip():
        raise ValidationError("Give the partner system a name.")
    secret = client_secret or secrets.token_urlsafe(40)
    with transaction.atomic():
        base = f"partner.{agency.slug}.{slugify(name)}"[:140]
        username, n = base, 1
        user_model = get_user_model()
        while user_model.objects.filter(username=username).exists():
            n += 1
            username = f"{base}.{n}"
        service_user = user_model.objects.create_user(
            username=username, password=None, first_name=name[:150]
        )
        directory.add_membership(user=service_user, agency=agency, role=Role.PARTNER_SYSTEM, by=by)
        application = Application(
            **({"client_id": client_id} if client_id else {}),
            name=name,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
            hash_client_secret=True,
            user=service_user,
        )
        application.save()
        partner = PartnerClient.objects.create(
            application=application, agency=agency, service_user=service_user, scopes=chosen
        )
        audit.record(
            Action.PARTNER_CLIENT_CREATED,
            actor=by,
            agency=agency,
            obj=partner,
            detail={"name": name, "client_id": application.client_id, "scopes": chosen},
        )
    return NewClient(partner, application.client_id, secret)


def revoke_partner_client(*, partner: PartnerClient, by: Any = None) -> PartnerClient:
    """Revoke a client: its tokens stop working at once and it can get no more."""
    with transaction.atomic():
        locked = PartnerClient.objects.select_for_update().get(pk=partner.pk)
        if locked.revoked_at is not None:
            return locked
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        AccessToken.objects.filter(application_id=locked.application_id).delete()
        RefreshToken.objects.filter(application_id=locked.application_id).delete()
        audit.record(
            Action.PARTNER_CLIENT_REVOKED,
            actor=by,
            agency=locked.agency,
            obj=locked,
            detail={"client_id": locked.application.client_id},
        )
    return locked
