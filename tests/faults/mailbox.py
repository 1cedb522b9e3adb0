"""The email backend of the fault tests' portal processes: Django's file backend, with
its folder from the environment (spt_portal/settings.py does not read EMAIL_FILE_PATH)."""

import os

from django.core.mail.backends import filebased


class EmailBackend(filebased.EmailBackend):
    def __init__(self, *args, file_path=None, **kwargs):
        super().__init__(*args, file_path=file_path or os.environ["FAULT_MAIL_DIR"], **kwargs)
