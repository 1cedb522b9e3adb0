"""The one place that creates boto3 clients.

Each customer account is reached through the IAM role the customer created
(sts:AssumeRole with the account's external id). Partitions: an ``aws`` account is reached
with the partner's global credentials and the Support endpoint in us-east-1; an ``aws-cn``
account with the partner's China-partition credentials and cn-north-1 (no role can be
assumed across partitions). Temporary credentials are cached until shortly before they
expire. botocore retries throttling and transient errors (``standard`` mode).
``AWS_ENDPOINT_URL`` points everything at a local emulator for the demo and tests.
"""

import threading
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from django.conf import settings

from spt_portal.models import CustomerAWSAccount

SUPPORT_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1"}


def _config() -> Config:
    # total_max_attempts counts the first request, as AWS_MAX_ATTEMPTS does in the AWS SDKs;
    # botocore's "max_attempts" would count only the retries (one request more).
    return Config(
        retries={"mode": "standard", "total_max_attempts": settings.AWS_MAX_ATTEMPTS},
        connect_timeout=10,
        read_timeout=30,
    )


SESSION_NAME = "spt-portal"

_cache: dict[tuple[str, str], dict] = {}
_lock = threading.Lock()


def _partner_session(partition: str) -> boto3.session.Session:
    if partition == "aws-cn":
        return boto3.session.Session(
            aws_access_key_id=settings.AWS_CN_ACCESS_KEY_ID or None,
            aws_secret_access_key=settings.AWS_CN_SECRET_ACCESS_KEY or None,
            profile_name=settings.AWS_CN_PROFILE or None,
        )
    return boto3.session.Session(profile_name=settings.AWS_PROFILE or None)


def _endpoint() -> str | None:
    return settings.AWS_ENDPOINT_URL or None


def _assumed_credentials(account: CustomerAWSAccount) -> dict:
    key = (account.partition, account.role_arn)
    with _lock:
        cached = _cache.get(key)
        if cached and cached["Expiration"] - timedelta(minutes=5) > datetime.now(UTC):
            return cached
    sts = _partner_session(account.partition).client(
        "sts",
        region_name=SUPPORT_REGION[account.partition],
        endpoint_url=_endpoint(),
        config=_config(),
    )
    response = sts.assume_role(
        RoleArn=account.role_arn,
        RoleSessionName=SESSION_NAME,
        ExternalId=account.external_id,
        DurationSeconds=3600,
    )
    credentials = response["Credentials"]
    with _lock:
        _cache[key] = credentials
    return credentials


def clear_credential_cache() -> None:
    with _lock:
        _cache.clear()


# AWS refused the role's temporary credentials themselves (expired early, e.g. on a skewed
# clock; the role deleted or its trust changed): they must not be reused until they expire.
REFUSED_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AccessDenied",
    "AccessDeniedException",
}


def forget_credentials(account: CustomerAWSAccount) -> None:
    with _lock:
        _cache.pop((account.partition, account.role_arn), None)


def _forget_when_refused(account: CustomerAWSAccount):
    def handler(parsed=None, **kwargs):
        if (parsed or {}).get("Error", {}).get("Code") in REFUSED_CREDENTIALS:
            forget_credentials(account)

    return handler


def _client_in_account(service: str, account: CustomerAWSAccount, region: str):
    if not account.role_arn:
        raise ValueError(f"account {account.account_id} has no IAM role ARN")
    credentials = _assumed_credentials(account)
    client = boto3.client(
        service,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        endpoint_url=_endpoint(),
        config=_config(),
    )
    client.meta.events.register("after-call", _forget_when_refused(account))
    return client


def support_client(account: CustomerAWSAccount):
    """A Support API client acting in the customer's account."""
    return _client_in_account("support", account, SUPPORT_REGION[account.partition])


HEALTH_REGION = {"aws": "us-east-1", "aws-cn": "cn-northwest-1"}


def health_client(account: CustomerAWSAccount | None = None, partition: str = "aws"):
    """The Health API: the partner's (organisation management) credentials for the
    organisation view, or a customer account's role for the account view."""
    if account is not None:
        return _client_in_account("health", account, HEALTH_REGION[account.partition])
    return _partner_session(partition).client(
        "health", region_name=HEALTH_REGION[partition], endpoint_url=_endpoint(), config=_config()
    )


def partner_client(service: str, region: str | None = None, partition: str = "aws"):
    """SQS, EventBridge and the like in the partner's own account."""
    return _partner_session(partition).client(
        service,
        region_name=region or settings.AWS_REGION,
        endpoint_url=_endpoint(),
        config=_config(),
    )
