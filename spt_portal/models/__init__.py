from .accounts import (
    APIToken,
    Customer,
    CustomerAWSAccount,
    CustomerEmailDomain,
    Language,
    Partition,
    ServiceTier,
    Skill,
    SupportPlan,
    User,
)
from .documents import DocumentVersion
from .notifications import ChannelKind, NotificationChannel, NotificationLog
from .outbox import JobOutbox

__all__ = [
    "DocumentVersion",
    "ChannelKind",
    "NotificationChannel",
    "NotificationLog",
    "APIToken",
    "Customer",
    "CustomerAWSAccount",
    "CustomerEmailDomain",
    "JobOutbox",
    "Language",
    "Partition",
    "ServiceTier",
    "Skill",
    "SupportPlan",
    "User",
]
