"""SMS through a provider interface: template id + parameters, as Chinese providers require
pre-approved templates. ``SMS_PROVIDER`` picks the implementation."""

import json
import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SMSError(Exception):
    pass


class SMSProvider:
    def send(self, *, phone: str, template_id: str, params: dict[str, str]) -> str:
        """Send one templated SMS; returns the provider's message id; raises SMSError."""
        raise NotImplementedError


class LoggingSMSProvider(SMSProvider):
    """Development: writes the SMS to the log instead of sending it."""

    def send(self, *, phone, template_id, params):
        logger.info("sms (not sent, logging provider) to %s: %s %s", phone, template_id, params)
        return f"logged-{template_id}"


class AliyunSMSProvider(SMSProvider):
    """Alibaba Cloud SMS (Dysmsapi SendSms) through Alibaba Cloud's own SDK.

    The SDK (package alibabacloud-dysmsapi20170525, the "aliyun-sms" extra) signs requests;
    ``client`` may be passed in for tests.
    """

    def __init__(self, client=None):
        self._client = client

    def _sdk(self):
        from alibabacloud_dysmsapi20170525 import models as sms_models
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as api_models

        return Client, sms_models, api_models

    def client(self):
        if self._client is None:
            client_class, _models, api_models = self._sdk()
            if not settings.ALIYUN_SMS_ACCESS_KEY_ID:
                raise SMSError("ALIYUN_SMS_ACCESS_KEY_ID is not set")
            self._client = client_class(
                api_models.Config(
                    access_key_id=settings.ALIYUN_SMS_ACCESS_KEY_ID,
                    access_key_secret=settings.ALIYUN_SMS_ACCESS_KEY_SECRET,
                    endpoint=settings.ALIYUN_SMS_ENDPOINT,
                )
            )
        return self._client

    def send(self, *, phone, template_id, params):
        _client_class, sms_models, _api = self._sdk()
        request = sms_models.SendSmsRequest(
            phone_numbers=phone.replace(" ", "").removeprefix("+86"),
            sign_name=settings.SMS_SIGN_NAME,
            template_code=template_id,
            template_param=json.dumps(params, ensure_ascii=False),
        )
        try:
            response = self.client().send_sms(request)
        except Exception as exc:  # the SDK raises its own error types
            raise SMSError(str(exc)) from exc
        body = response.body
        if getattr(body, "code", None) != "OK":
            raise SMSError(f"{getattr(body, 'code', '?')}: {getattr(body, 'message', '')}")
        return body.biz_id or ""


PROVIDERS = {
    "logging": "spt_portal.sms.LoggingSMSProvider",
    "aliyun": "spt_portal.sms.AliyunSMSProvider",
}


def get_provider() -> SMSProvider:
    path = PROVIDERS.get(settings.SMS_PROVIDER, settings.SMS_PROVIDER)
    return import_string(path)()
