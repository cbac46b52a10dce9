"""The assessments app's pages, and its endpoints under /api/v1/ (on its own router, which the
permission matrix in tests/ reads)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from assessments import api, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
api.register(router)

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("assessments/", views.assessment_list, name="assessment_list"),
    path(
        "assessments/person/<str:person_id>/panel/",
        views.person_panel,
        name="assessment_person_panel",
    ),
    path(
        "assessments/person/<str:person_id>/new/", views.assessment_start, name="assessment_start"
    ),
    path("assessments/<str:assessment_id>/", views.assessment_detail, name="assessment_detail"),
    path("assessments/<str:assessment_id>/delegate/", views.delegate, name="assessment_delegate"),
    path("assessments/<str:assessment_id>/sign-off/", views.sign_off, name="assessment_sign_off"),
    path("assessments/<str:assessment_id>/history/", views.history, name="assessment_history"),
    path(
        "assessments/<str:assessment_id>/addenda/new/",
        views.addendum_new,
        name="assessment_addendum",
    ),
    path(
        "assessments/<str:assessment_id>/scales/<str:scale>/new/",
        views.scale_new,
        name="assessment_scale",
    ),
    path("assessments/<str:assessment_id>/risks/new/", views.risk_new, name="assessment_risk"),
    path(
        "assessments/<str:assessment_id>/meeting/new/",
        views.meeting_new,
        name="assessment_meeting",
    ),
    path(
        "assessments/<str:assessment_id>/care-plan/new/",
        views.care_plan_new,
        name="assessment_care_plan",
    ),
    path("assessments/<str:assessment_id>/adopt/", views.adopt, name="assessment_adopt"),
    path("sections/<str:section_id>/", views.section_edit, name="section_edit"),
    path("sections/<str:section_id>/sign/", views.section_sign, name="section_sign"),
    path("sections/<str:section_id>/reopen/", views.section_reopen, name="section_reopen"),
    path("section-conflicts/<str:conflict_id>/", views.section_conflict, name="section_conflict"),
    path("care-plans/<str:care_plan_id>/", views.care_plan_detail, name="care_plan_detail"),
    path(
        "care-plans/<str:care_plan_id>/authorise/",
        views.care_plan_authorise,
        name="care_plan_authorise",
    ),
    path("care-plans/<str:care_plan_id>/letter/", views.letter, name="care_plan_letter"),
    path("care-plans/<str:care_plan_id>/letter.pdf", views.letter_pdf, name="care_plan_pdf"),
    path(
        "care-plans/<str:care_plan_id>/letter/sent/",
        views.letter_sent,
        name="care_plan_letter_sent",
    ),
]
