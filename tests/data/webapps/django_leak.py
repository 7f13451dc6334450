"""A one-file Django app with a deliberate leak: every request adds an entry to a module-level dict."""

import sys

from django.conf import settings

settings.configure(DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__, SECRET_KEY="test-only",
                   MIDDLEWARE=[], INSTALLED_APPS=[], LOGGING_CONFIG=None)

from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

SESSIONS_BY_ID = {}


def index(request):
    SESSIONS_BY_ID[len(SESSIONS_BY_ID)] = {"path": request.path, "body": "x" * 2000 + str(len(SESSIONS_BY_ID))}
    return HttpResponse("ok")


urlpatterns = [path("", index)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "runserver", f"127.0.0.1:{sys.argv[1]}", "--noreload", "--nothreading"])
