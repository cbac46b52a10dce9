from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from caretrust.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("persons", views.PersonViewSet, basename="api-person")
router.register("case-files", views.CaseFileViewSet, basename="api-casefile")
router.register("sharing-bases", views.SharingBasisViewSet, basename="api-sharingbasis")

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
