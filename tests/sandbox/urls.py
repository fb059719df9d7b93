from django.urls import include, path

from tests.sandbox import receiver

urlpatterns = [
    path("hooks/<str:name>/", receiver.hook),
    path("sandbox/", include("sandbox.urls")),
]
