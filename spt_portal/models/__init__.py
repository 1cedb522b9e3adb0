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
from .outbox import JobOutbox

__all__ = [
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
