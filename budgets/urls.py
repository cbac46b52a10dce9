"""The budgets app's pages, and its endpoints under /api/v1/ (on its own router, which the
permission matrix in tests/ reads)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False

urlpatterns = [
    path("api/v1/", include(router.urls)),
]
