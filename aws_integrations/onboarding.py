"""Customer onboarding: the CloudFormation template that creates the role the portal
assumes (least privilege) and the EventBridge rule that forwards Support case updates to
the partner's event bus; and the "test connection" check."""

import json

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.utils.translation import gettext as _

from spt_portal.models import CustomerAWSAccount, SupportPlan

from .clients import SUPPORT_REGION, support_client

SUPPORT_ACTIONS = [
    "support:DescribeCases",
    "support:DescribeCommunications",
    "support:CreateCase",
    "support:AddCommunicationToCase",
    "support:ResolveCase",
    "support:DescribeServices",
    "support:DescribeSeverityLevels",
]
HEALTH_ACTIONS = [
    "health:DescribeEvents",
    "health:DescribeEventDetails",
    "health:DescribeAffectedEntities",
]


def cloudformation_template(account: CustomerAWSAccount) -> dict:
    partition = account.partition
    partner = settings.AWS_PARTNER_ACCOUNT_ID or "PARTNER_ACCOUNT_ID"
    role_name = account.role_arn.rsplit("/", 1)[-1] if account.role_arn else "SPTPortalAccess"
    bus = f"arn:{partition}:events:{SUPPORT_REGION[partition]}:{partner}:event-bus/default"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"SPT Portal access for AWS account {account.account_id} "
        f"({account.customer.name}): read and answer AWS Support cases, read AWS Health.",
        "Resources": {
            "PortalRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": role_name,
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:{partition}:iam::{partner}:root"},
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    "StringEquals": {"sts:ExternalId": account.external_id}
                                },
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "spt-portal-support-and-health",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": SUPPORT_ACTIONS + HEALTH_ACTIONS,
                                        "Resource": "*",
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
            "ForwardRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "put-events-to-partner-bus",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "events:PutEvents",
                                        "Resource": bus,
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
            "SupportCaseUpdates": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": "Forward AWS Support case updates to the partner (SPT Portal)",
                    "EventPattern": {
                        "source": ["aws.support"],
                        "detail-type": ["Support Case Update"],
                    },
                    "Targets": [
                        {
                            "Id": "partner-bus",
                            "Arn": bus,
                            "RoleArn": {"Fn::GetAtt": ["ForwardRole", "Arn"]},
                        }
                    ],
                },
            },
        },
        "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["PortalRole", "Arn"]}}},
    }


def cloudformation_json(account: CustomerAWSAccount) -> str:
    return json.dumps(cloudformation_template(account), indent=2, ensure_ascii=False)


def _store_error(account: CustomerAWSAccount, message: str) -> str:
    """Keep a failed test's reason on the account, as the sync keeps its own (shown on the
    account page and in the SPT-005 evidence; the next successful test or sync clears it)."""
    CustomerAWSAccount.objects.filter(pk=account.pk).update(support_api_error=message[:300])
    return message


def test_connection(account: CustomerAWSAccount, *, client=None) -> tuple[bool, str]:
    """Assume the role and call DescribeSeverityLevels; record the support plan found, or
    the reason it failed."""
    try:
        client = client or support_client(account)
        levels = [level["code"] for level in client.describe_severity_levels()["severityLevels"]]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "SubscriptionRequiredException":
            CustomerAWSAccount.objects.filter(pk=account.pk).update(
                support_plan=SupportPlan.BASIC,
                support_api_error=_(
                    "No Business or Enterprise support plan: the Support API is not available."
                ),
            )
            return False, _(
                "Connected, but the account has no Business or Enterprise support plan."
            )
        return False, _store_error(account, f"{code}: {exc}")
    except (BotoCoreError, ValueError) as exc:
        return False, _store_error(account, str(exc))
    plan = SupportPlan.ENTERPRISE if "critical" in levels else SupportPlan.BUSINESS
    CustomerAWSAccount.objects.filter(pk=account.pk).update(support_plan=plan, support_api_error="")
    return True, _("Connected. Severity levels: %(levels)s; support plan: %(plan)s.") % {
        "levels": ", ".join(levels),
        "plan": SupportPlan(plan).label,
    }
