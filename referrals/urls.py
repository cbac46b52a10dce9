"""The referrals app's pages, and its endpoints under /api/v1/ (on its own router, which the
permission matrix in tests/ reads)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from referrals import api, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("referral-services", api.ServiceViewSet, basename="referral-service")
router.register("referrals", api.ReferralViewSet, basename="referral")
router.register("hospital-stays", api.HospitalStayViewSet, basename="hospital-stay")

pages = [
    path("referrals/", views.home, name="home"),
    path("referrals/sent/", views.sent, name="sent"),
    path("referrals/new/", views.new_referral, name="new"),
    path("referrals/new/<str:person_id>/", views.new_referral, name="new_for"),
    path("referrals/notifications/", views.notifications, name="notifications"),
    path("referrals/queues/<slug:slug>/", views.queue, name="queue"),
    path("referrals/catalogue/", views.catalogue, name="catalogue"),
    path("referrals/catalogue/<slug:slug>/", views.service_edit, name="service_edit"),
    path("referrals/rules/", views.rules, name="rules"),
    path("referrals/rules/<int:version>/publish/", views.rules_publish, name="rules_publish"),
    path("referrals/rules/<int:version>/copy/", views.rules_copy, name="rules_copy"),
    path("referrals/outcomes/", views.outcomes_page, name="outcomes"),
    path("referrals/outcomes/<slug:measure>/", views.outcomes_page, name="outcomes_measure"),
    path("referrals/discharge/", views.worklist, name="worklist"),
    path("referrals/discharge/admit/<str:person_id>/", views.admit, name="admit"),
    path("referrals/discharge/<str:stay_id>/", views.stay_detail, name="stay"),
    path("referrals/person/<str:person_id>/", views.person_panel, name="person_panel"),
    path("referrals/<uuid:referral_id>/", views.referral_detail, name="detail"),
    path("referrals/<uuid:referral_id>/<slug:action>/", views.referral_action, name="action"),
    path("refer-yourself/", views.public_referral, name="public"),
]

urlpatterns = [
    path("", include((pages, "referrals"))),
    path("api/v1/", include(router.urls)),
]
