"""The audit trail: one append-only table, hash-chained.

The database rejects UPDATE, DELETE and TRUNCATE on it (triggers in the migration), so not even
a bug in the app can rewrite history; anyone who bypasses the triggers as the table's owner
breaks a hash chain, which ``manage.py verify_audit`` detects. Actor and agency are stored as
plain ids and names, not foreign keys, so deleting a user can never cascade into the trail.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import models

from caretrust.audit.actions import action_label


class Action(models.TextChoices):
    LOGIN = "auth.login", "Signed in"
    LOGIN_FAILED = "auth.login_failed", "Failed sign-in"
    LOGOUT = "auth.logout", "Signed out"
    AGENCY_SWITCHED = "auth.agency_switched", "Switched active agency"
    PERSON_VIEWED = "person.viewed", "Viewed a person"
    PERSON_SEARCHED = "person.searched", "Searched for people"
    PERSON_CREATED = "person.created", "Registered a person"
    PERSON_UPDATED = "person.updated", "Updated a person"
    # Registration is a take-on: one of these two rows says which it was (Caldicott guardians
    # read the trail; the caller was told nothing that tells the two apart).
    PERSON_TAKEN_ON_NEW = "person.taken_on_new", "Took on a person (newly registered)"
    PERSON_TAKEN_ON_EXISTING = (
        "person.taken_on_existing",
        "Took on a person already registered elsewhere",
    )
    CASEFILE_REOPENED = "casefile.reopened", "Reopened a case file"
    CASELOAD_LISTED = "casefile.listed", "Listed case files"
    CASEFILE_OPENED = "casefile.opened", "Opened a case file"
    CASEFILE_CLOSED = "casefile.closed", "Closed a case file"
    CARER_LINKED = "carer.linked", "Linked a carer"
    ACCESS_DENIED = "access.denied", "Access denied"
    AGENCY_CREATED = "directory.agency_created", "Created an agency"
    MEMBERSHIP_ADDED = "directory.membership_added", "Added a membership"
    MEMBERSHIP_ENDED = "directory.membership_ended", "Ended a membership"
    NOTE_VIEWED = "note.viewed", "Viewed a case note"
    NOTE_WRITTEN = "note.written", "Wrote a case note"
    BASIS_RECORDED = "sharing.basis_recorded", "Recorded a sharing basis"
    BASIS_STATUS_CHANGED = "sharing.basis_status_changed", "Changed a sharing basis's status"
    PERMISSIONS_CHANGED = "sharing.permissions_changed", "Changed case-file permissions"
    BREAK_GLASS_STARTED = "sharing.break_glass_started", "Broke the glass"
    BREAK_GLASS_EXPIRED = "sharing.break_glass_expired", "Break-glass access expired"
    BREAK_GLASS_REVIEWED = "sharing.break_glass_reviewed", "Reviewed a break-glass access"
    SHARING_DRIFT = "sharing.drift", "Found permission rows out of step with the bases"
    REPORT_VIEWED = "audit.report_viewed", "Viewed an access report"
    PARTNER_CLIENT_CREATED = "api.client_created", "Registered a partner client"
    PARTNER_CLIENT_REVOKED = "api.client_revoked", "Revoked a partner client"
    ADMIN_VIEW = "admin.view", "Viewed records in the admin"
    ADMIN_CHANGE = "admin.change", "Changed a record in the admin"


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()
    # Plain text: each app registers its own actions' labels (caretrust.audit.actions).
    action = models.CharField(max_length=60)
    actor_id = models.BigIntegerField(null=True)
    actor_username = models.CharField(max_length=150, blank=True)
    agency_id = models.BigIntegerField(null=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    person_id = models.UUIDField(null=True)  # indexed with id, below
    request_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict)
    # Which of the trail's hash chains the row belongs to: each chain links its own rows, in
    # id order, from its own genesis (see audit.services.record). Not a positive integer
    # field: its CHECK constraint would be compiled for every row inserted.
    chain = models.SmallIntegerField(default=0)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Exactly one row of a chain follows each row: even a writer that skipped the chain's
            # head could not fork it, the database would refuse its row.
            models.UniqueConstraint(fields=["chain", "prev_hash"], name="audit_chain_no_fork"),
        ]
        indexes = [
            models.Index(fields=["actor_id", "id"], name="audit_by_actor"),
            models.Index(fields=["person_id", "id"], name="audit_by_person"),
            # "Who has seen this record" finds a person among the ids a search returned.
            GinIndex(fields=["detail"], opclasses=["jsonb_path_ops"], name="audit_detail"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.action} by {self.actor_username or 'system'}"

    @property
    def action_label(self) -> str:
        return action_label(self.action)


class AuditChainHead(models.Model):
    """Where each chain of the trail ends: its last row's id and hash.

    The trail is several hash chains ("lanes") written side by side, so that concurrent
    audited transactions do not all queue on one lock. A writer locks a free lane's head row
    for the rest of its transaction, links its row to the head's hash and moves the head on, in
    one statement (audit.services.record). The heads also let ``verify_audit`` see rows
    removed from the end of a chain, which no link would otherwise reveal. The database
    refuses to delete them (migration 0006).
    """

    chain = models.SmallIntegerField(primary_key=True)
    last_id = models.BigIntegerField(null=True)  # null: the chain has no row yet
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"chain {self.chain} at #{self.last_id}"
