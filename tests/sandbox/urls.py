"""The project's URLs plus webhook receivers at /hooks/<name>/ for the sandbox tests."""

from django.urls import path

from project.urls import handler403, handler404, handler500  # noqa: F401
from project.urls import urlpatterns as project_urlpatterns
from tests.sandbox import receiver

urlpatterns = [path("hooks/<str:name>/", receiver.hook), *project_urlpatterns]
