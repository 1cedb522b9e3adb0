"""The boto3 client factory against moto: assume-role per account, partitions, caching."""

import pytest
from moto import mock_aws

from aws_integrations import clients
from tests.factories import AWSAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def aws(settings):
    settings.AWS_ENDPOINT_URL = ""
    clients.clear_credential_cache()
    with mock_aws():
        yield
    clients.clear_credential_cache()


def test_global_account_gets_a_us_east_1_support_client_with_assumed_credentials(aws, acme):
    account = AWSAccountFactory(
        customer=acme,
        account_id="123456789012",
        partition="aws",
        role_arn="arn:aws:iam::123456789012:role/SPTPortalAccess",
    )
    client = clients.support_client(account)
    assert client.meta.region_name == "us-east-1"
    credentials = client._request_signer._credentials
    assert credentials.token  # temporary credentials from sts:AssumeRole
    # Cached until shortly before expiry: a second client reuses them.
    again = clients.support_client(account)
    assert again._request_signer._credentials.access_key == credentials.access_key
    # moto implements CreateCase / DescribeCases / ResolveCase.
    case_id = client.create_case(
        subject="demo",
        serviceCode="amazon-s3",
        severityCode="low",
        categoryCode="other",
        communicationBody="hi",
        language="en",
    )["caseId"]
    assert client.resolve_case(caseId=case_id)["finalCaseStatus"] == "resolved"


def test_china_account_uses_cn_north_1(aws, acme, settings):
    settings.AWS_CN_ACCESS_KEY_ID = "cn-key"
    settings.AWS_CN_SECRET_ACCESS_KEY = "cn-secret"
    account = AWSAccountFactory(
        customer=acme,
        account_id="210987654321",
        partition="aws-cn",
        role_arn="arn:aws-cn:iam::210987654321:role/SPTPortalAccess",
    )
    client = clients.support_client(account)
    assert client.meta.region_name == "cn-north-1"
    assert client.meta.endpoint_url.endswith("amazonaws.com.cn")


def test_account_without_role_is_a_clear_error(acme):
    account = AWSAccountFactory(customer=acme, role_arn="")
    with pytest.raises(ValueError, match="no IAM role ARN"):
        clients.support_client(account)
