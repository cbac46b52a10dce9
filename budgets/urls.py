"""The budgets app's pages, and its endpoints under /api/v1/ (on its own router, which the
permission matrix in tests/ reads)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from budgets import api, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("funds", api.FundViewSet, basename="budget-fund")
router.register("budget-accounts", api.AccountViewSet, basename="budget-account")
router.register("journals", api.JournalViewSet, basename="budget-journal")
router.register("commitments", api.CommitmentViewSet, basename="budget-commitment")
router.register("care-package-events", api.CareEventViewSet, basename="budget-care-event")

urlpatterns = [
    path("budgets/", views.fund_list, name="budgets_funds"),
    path("budgets/<str:fund_id>/", views.dashboard, name="budgets_dashboard"),
    path("budgets/<str:fund_id>/postings/", views.postings, name="budgets_postings"),
    path("budgets/<str:fund_id>/contributions/", views.contributions, name="budgets_contributions"),
    path("budgets/<str:fund_id>/trial-balance/", views.trial_balance, name="budgets_trial_balance"),
    path("budgets/<str:fund_id>/commitments/", views.commitments, name="budgets_commitments"),
    path("budgets/<str:fund_id>/statement/", views.statement, name="budgets_statement"),
    path("budgets/<str:fund_id>/year-end/", views.year_end, name="budgets_year_end"),
    path(
        "budgets/<str:fund_id>/export/<slug:report>.<slug:fmt>", views.export, name="budgets_export"
    ),
    path(
        "budgets/<str:fund_id>/periods/<str:period_id>/close/",
        views.close_period,
        name="budgets_close_period",
    ),
    path("budgets/<str:fund_id>/close/<str:run_id>/", views.close_run, name="budgets_close_run"),
    path(
        "budgets/people/<str:person_id>/charges/",
        views.person_charges,
        name="budgets_person_charges",
    ),
    path("api/v1/", include(router.urls)),
]
