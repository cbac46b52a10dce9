from django.urls import path

from caretrust.sharing import views

urlpatterns = [
    path("people/<str:person_id>/sharing/<slug:kind>/", views.record_basis, name="record_basis"),
    path("people/<str:person_id>/access-report/", views.access_report, name="access_report"),
    path("sharing/<str:basis_id>/withdraw/", views.withdraw, name="withdraw_basis"),
    path("break-glass/", views.break_glass, name="break_glass"),
    path("break-glass/reviews/", views.break_glass_queue, name="break_glass_queue"),
    path("break-glass/reviews/<str:review_id>/", views.review, name="break_glass_review"),
    path("notes/new/", views.note_create, name="note_create"),
    path("notes/<str:note_id>/", views.note_detail, name="note_detail"),
    path("audit/users/<str:user_id>/", views.user_activity, name="user_activity"),
]
