"""Partner webhook endpoints under /api/v1/, on a router of their own (not the core API's):
the events package owns them, and its permission matrix (tests/events/) reads this router."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from caretrust.events import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register(
    "webhook-subscriptions", views.SubscriptionViewSet, basename="api-webhooksubscription"
)
router.register("webhook-deliveries", views.DeliveryViewSet, basename="api-webhookdelivery")

urlpatterns = [
    path("api/v1/", include(router.urls)),
]
