from .accounts import (
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
