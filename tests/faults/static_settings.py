"""collectstatic for the fault tests' gunicorn: the portal's settings, with Django's
manifest storage instead of WhiteNoise's compressing one. The manifest (staticfiles.json)
is the same, so the portal's own settings serve the files; only the gzip and brotli copies
are left out, which halves the time it takes."""

from spt_portal.settings import *  # noqa: F403
from spt_portal.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
