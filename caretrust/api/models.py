"""Partner systems and the API's idempotency records."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from oauth2_provider.models import Application

from caretrust.directory.models import Agency

# Scopes: read and write per resource group. Break-glass is never available to a client.
SCOPES = {
    "persons:read": "Look up people and read their demographics",
    "persons:write": "Register people and update their demographics",
    "casefiles:read": "Read case files",
    "sharing:read": "Read sharing bases",
    "sharing:write": "Record consent or refusal, and withdraw it",
    "assessments:read": "Read single assessments, scales, meetings and care plans",
    "assessments:write": "Write assessments, sections, scales, meetings and care plans",
    "referrals:read": "Read referrals, services, queues and hospital discharges",
    "referrals:write": "Make and triage referrals, and update hospital discharges",
    "budgets:read": "Read pooled funds, balances, journals and reconciliations",
    "budgets:write": "Post journals and commitments to pooled funds",
    "webhooks:read": "Read this client's webhook subscriptions and deliveries",
    "webhooks:write": "Subscribe to events, rotate secrets and resend deliveries",
}


class PartnerClient(models.Model):
    """An OAuth2 client application bound to exactly one agency and a set of scopes. It acts
    through its own service user, a member of that agency with the partner-system role, so
    everything it does is audited under a name and limited to what that agency may see."""

    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, related_name="partner"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="partner_clients")
    service_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="partner_client"
    )
    # Checked against SCOPES by the service that creates a client (no choices: a new scope
    # needs no migration).
    scopes = ArrayField(models.CharField(max_length=40))
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.application.name} ({self.agency})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first response to a POST with an Idempotency-Key, replayed for a retry with the same
    key and body. Keys are scoped to the caller (client or user)."""

    owner = models.CharField(max_length=80)
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_per_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.owner}:{self.key}"
