"""Partner webhook endpoints under /api/v1/: a partner client's subscriptions, their
deliveries and delivery log, secret rotation and resend. Thin: writes go through
``caretrust.events.webhooks``. A client sees only its own subscriptions and deliveries
(another client's, even of the same agency, answer 404 like a missing one); a member of
staff's session is refused (403): subscriptions belong to partner clients."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from caretrust.api.auth import ActsForAnAgency, HasResourceScope
from caretrust.api.conventions import Cursor, etag_for, idempotent, required_version, stale
from caretrust.api.views import (
    COMMON_ERRORS,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    WRITE_ERRORS,
    AgencyScopedViewSet,
    NonEmptyCharFilter,
    StrictFilterSet,
    _problem,
)
from caretrust.events import serializers as s
from caretrust.events import webhooks
from caretrust.events.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription
from caretrust.people.selectors import first_by_uuid


class IsPartnerClient(BasePermission):
    message = "Webhook subscriptions belong to partner clients: call with a client's token."

    def has_permission(self, request: Any, view: Any) -> bool:
        return getattr(request, "partner", None) is not None


class WebhookViewSet(AgencyScopedViewSet):
    permission_classes = [ActsForAnAgency, HasResourceScope, IsPartnerClient]
    scope_group = "webhooks"

    @property
    def partner(self) -> Any:
        return self.request.partner  # type: ignore[attr-defined]


UPDATE_ERRORS = {
    **COMMON_ERRORS,
    **_problem(412, "Stale ETag."),
    **_problem(428, "If-Match missing."),
}


@extend_schema_view(
    list=extend_schema(
        summary="This client's webhook subscriptions",
        responses={200: s.SubscriptionSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a webhook subscription",
        responses={200: s.SubscriptionSerializer, **COMMON_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a webhook subscription (with its deliveries and their log)",
        responses={204: OpenApiResponse(description="Deleted."), **COMMON_ERRORS},
    ),
)
class SubscriptionViewSet(WebhookViewSet):
    serializer_class = s.SubscriptionSerializer
    queryset = WebhookSubscription.objects.none()
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return WebhookSubscription.objects.filter(client=self.partner).select_related(
            "client__agency"
        )

    def get_object(self) -> WebhookSubscription:
        found = first_by_uuid(self.get_queryset(), self.kwargs["pk"])
        if found is None:
            raise Http404
        return found

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        subscription = self.get_object()
        return Response(
            self.get_serializer(subscription).data, headers={"ETag": etag_for(subscription)}
        )

    @extend_schema(
        summary="Subscribe to events",
        description="Events about your agency whose type matches, signed per Standard "
        "Webhooks. The response carries the signing secret, shown only once.",
        parameters=[IDEMPOTENCY_KEY],
        request=s.SubscriptionCreateSerializer,
        responses={201: s.SubscriptionWithSecretSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = s.SubscriptionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = webhooks.create_subscription(
            client=self.partner, by=request.user, **data.validated_data
        )
        subscription = created.subscription
        return Response(
            s.with_secret(subscription, created.secret),
            status=status.HTTP_201_CREATED,
            headers={
                "ETag": etag_for(subscription),
                "Location": f"/api/v1/webhook-subscriptions/{subscription.pk}/",
            },
        )

    @extend_schema(
        summary="Change a webhook subscription, or disable or enable it",
        description="Send If-Match with the ETag from your last read (428 without it, "
        "412 if it has changed since). enabled=true resumes pending deliveries in order.",
        parameters=[IF_MATCH],
        request=s.SubscriptionUpdateSerializer,
        responses={200: s.SubscriptionSerializer, **UPDATE_ERRORS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        subscription = self.get_object()
        version = required_version(request, subscription)
        data = s.SubscriptionUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            updated = webhooks.update_subscription(
                subscription=subscription,
                expected_version=version,
                changes=dict(data.validated_data),
                by=request.user,
            )
        except webhooks.StaleSubscription:
            raise stale() from None
        return Response(self.get_serializer(updated).data, headers={"ETag": etag_for(updated)})

    def destroy(self, request: Request, pk: str) -> Response:
        webhooks.delete_subscription(subscription=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate the signing secret",
        description="A new secret, shown only in this response. For the grace period "
        "every delivery is signed with the old secret as well (two signatures).",
        parameters=[IDEMPOTENCY_KEY],
        request=s.RotateSecretSerializer,
        responses={200: s.SubscriptionWithSecretSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @idempotent
    def rotate_secret(self, request: Request, pk: str) -> Response:
        data = s.RotateSecretSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rotated = webhooks.rotate_secret(
            subscription=self.get_object(),
            grace=dt.timedelta(seconds=data.validated_data["grace_period_seconds"]),
            by=request.user,
        )
        return Response(
            s.with_secret(rotated.subscription, rotated.secret),
            headers={"ETag": etag_for(rotated.subscription)},
        )


class DeliveryFilter(StrictFilterSet):
    subscription = django_filters.UUIDFilter(field_name="subscription_id")
    status = NonEmptyCharFilter(field_name="status")
    event_id = django_filters.UUIDFilter(field_name="event__event_id")

    class Meta:
        model = WebhookDelivery
        fields = ["subscription", "status", "event_id"]


class AttemptCursor(Cursor):
    ordering = ("-attempted_at", "-id")


@extend_schema_view(
    list=extend_schema(
        summary="Deliveries to this client's subscriptions",
        responses={200: s.DeliverySerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a delivery", responses={200: s.DeliverySerializer, **COMMON_ERRORS}
    ),
)
class DeliveryViewSet(WebhookViewSet):
    serializer_class = s.DeliverySerializer
    filterset_class = DeliveryFilter
    queryset = WebhookDelivery.objects.none()
    # The delivery log is a cursor-paged list of its own.
    action_query_params = {"attempts": frozenset({"cursor", "page_size"})}

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        return WebhookDelivery.objects.filter(subscription__client=self.partner).select_related(
            "event"
        )

    def get_object(self) -> WebhookDelivery:
        found = first_by_uuid(self.get_queryset(), self.kwargs["pk"])
        if found is None:
            raise Http404
        return found

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="The delivery log: every attempt of a delivery",
        responses={200: s.AttemptSerializer(many=True), **COMMON_ERRORS},
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=AttemptCursor,
        serializer_class=s.AttemptSerializer,
    )
    def attempts(self, request: Request, pk: str) -> Response:
        delivery = self.get_object()
        page = self.paginate_queryset(DeliveryAttempt.objects.filter(delivery=delivery))
        assert page is not None
        return self.get_paginated_response(s.AttemptSerializer(page, many=True).data)

    @extend_schema(
        summary="Send a delivery again",
        description="With the same webhook-id, as soon as it heads its aggregate's queue; "
        "the retry schedule starts again.",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: s.DeliverySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def resend(self, request: Request, pk: str) -> Response:
        delivery = webhooks.resend_delivery(delivery=self.get_object(), by=request.user)
        return Response(self.get_serializer(delivery).data)
