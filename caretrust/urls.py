from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView, TemplateView

from caretrust import errors
from caretrust.directory import views as directory_views
from caretrust.people import views as people_views

admin.site.site_header = "caretrust administration"
admin.site.site_title = "caretrust admin"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="caseload", permanent=False)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "logout/confirm/",
        TemplateView.as_view(template_name="registration/logout_confirm.html"),
        name="logout_confirm",
    ),
    path("agency/", directory_views.choose_agency, name="choose_agency"),
    path("caseload/", people_views.caseload, name="caseload"),
    path("people/", people_views.person_search, name="person_search"),
    path("people/new/", people_views.person_register, name="person_register"),
    path("people/<str:person_id>/", people_views.person_detail, name="person_detail"),
    path("", include("caretrust.sharing.urls")),
    path("", include("caretrust.api.urls")),
    path("", include("caretrust.events.urls")),
    path("", include("assessments.urls")),
    path("", include("referrals.urls")),
    path("", include("budgets.urls")),
    path("admin/", admin.site.urls),
    # Last: anything unmatched is a view's 404, so it gets the styled page (or a problem
    # document under /api/) even with DEBUG on, not a list of every URL (caretrust/errors.py).
    re_path(r"^", errors.no_such_page),
]

handler400 = "caretrust.errors.bad_request"
handler403 = "caretrust.errors.permission_denied"
handler404 = "caretrust.errors.page_not_found"
handler500 = "caretrust.errors.server_error"
