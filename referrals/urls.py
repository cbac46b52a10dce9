"""The referrals app's pages, and its endpoints under /api/v1/ (on its own router, which the
permission matrix in tests/ reads)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from referrals import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False

pages = [
    path("referrals/<uuid:referral_id>/", views.referral_detail, name="detail"),
    path("referrals/person/<str:person_id>/", views.person_panel, name="person_panel"),
]

urlpatterns = [
    path("", include((pages, "referrals"))),
    path("api/v1/", include(router.urls)),
]
