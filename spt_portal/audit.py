"""The SPT audit items and the registry of their live evidence.

Later apps register an evidence provider for an item (a callable taking the request and
returning a list of ``Evidence``); the auditor pages show what is registered and say in red
where nothing is. The project shell (spt_portal) owns the registry, so lower apps hook in
without importing upward.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class SPTItem:
    code: str
    title: str
    requirement: str
    key_requirement: str
    # Where it lives: (label, URL name, args, anchor).
    places: tuple = ()


@dataclass
class Evidence:
    label: str
    value: str
    ok: bool
    url: str = ""
    detail: str = ""


CONTRACT = "CUSTOMER-SERVICE-CONTRACT-TEMPLATE"

SPT_ITEMS = [
    SPTItem(
        "SPT-001",
        _("Base SLA"),
        _(
            "Describe your base SLA: the SLA between the AWS Partner and its customers on "
            "response times, operations and notifications."
        ),
        _(
            "A demonstration or description of the policy on the service level agreement for "
            "billed support, stored in the document center or the customer service contract."
        ),
        (
            (
                _("SLA policy, chapter 2: response-time SLA"),
                "document",
                ("SLA-POLICY",),
                "response-times",
            ),
            (_("SLA policy, chapter 6: reporting"), "document", ("SLA-POLICY",), "reporting"),
            (_("Contract, article 2: SLA"), "document", (CONTRACT,), "article-2"),
            (_("SLA page with 30-day attainment"), "sla_overview", (), ""),
            (_("SLA attainment report"), "sla_report", (), ""),
            (_("SLA policy versions (workspace)"), "admin:sla_slapolicyversion_changelist", (), ""),
        ),
    ),
    SPTItem(
        "SPT-002",
        _("Customer service availability"),
        _(
            "How do customers contact you for 24x7 support? How is your operations team "
            "staffed around the clock, and with what process?"
        ),
        _(
            "A demonstration or description of the partner's support process and service "
            "level policy, stored in the document center or the customer service contract."
        ),
        (
            (_("SLA policy, chapter 5: availability"), "document", ("SLA-POLICY",), "availability"),
            (_("SLA policy, chapter 9: contacts"), "document", ("SLA-POLICY",), "contacts"),
            (_("Contract, article 2.2: availability"), "document", (CONTRACT,), "availability"),
            (_("Contact page"), "support_contact", (), ""),
            (_("On-call schedule"), "oncall", (), ""),
        ),
    ),
    SPTItem(
        "SPT-003",
        _("Ticket creation"),
        _("How do customers create event or incident tickets in your support system?"),
        _("A demonstration or description of ticket creation and flow in the partner's system."),
        (
            (_("SLA policy, 3.1: ticket handling"), "document", ("SLA-POLICY",), "ticket-flow"),
            (
                _("Contract, article 2.3: operation standards"),
                "document",
                (CONTRACT,),
                "operations",
            ),
            (_("Ticket queue (workspace)"), "admin:tickets_ticket_changelist", (), ""),
            (_("Inbound emails (workspace)"), "admin:tickets_inboundemail_changelist", (), ""),
            (_("REST API documentation"), "api:openapi-view", (), ""),
        ),
    ),
    SPTItem(
        "SPT-004",
        _("Service desk operations"),
        _(
            "Where can customers find your defined and documented support priority and "
            "severity levels?"
        ),
        _(
            "A demonstration or description of the documents or policy defining incident "
            "priorities and severity levels."
        ),
        (
            (_("SLA policy, chapter 2: priorities"), "document", ("SLA-POLICY",), "response-times"),
            (
                _("SLA policy, chapter 8: severity mappings"),
                "document",
                ("SLA-POLICY",),
                "mappings",
            ),
            (_("Contract, article 2.1"), "document", (CONTRACT,), "response-times"),
            (_("Knowledge base"), "portal:kb", (), ""),
        ),
    ),
    SPTItem(
        "SPT-005",
        _("AWS Support case updates"),
        _(
            "Provide your method to ensure the partner's operations staff do not miss AWS "
            "updates on AWS Support cases."
        ),
        _(
            "A demonstration or description of how operations monitor customers' AWS Support "
            "cases end to end, and how customers are told when a case changes."
        ),
        (
            (
                _("SLA policy, 3.3: AWS Support cases"),
                "document",
                ("SLA-POLICY",),
                "aws-support-cases",
            ),
            (
                _("Contract, article 2.4: AWS integration"),
                "document",
                (CONTRACT,),
                "aws-integration",
            ),
            (
                _("AWS Support cases (workspace)"),
                "admin:aws_integrations_supportcase_changelist",
                (),
                "",
            ),
            (_("Sync runs (workspace)"), "admin:aws_integrations_syncrun_changelist", (), ""),
        ),
    ),
    SPTItem(
        "SPT-006",
        _("AWS event management"),
        _(
            "Describe the process for monitoring the AWS Health Dashboard and alerting the "
            "support team to these events."
        ),
        _(
            "How the organization-level Health Dashboard is enabled, and what operations do "
            "after a health event is detected."
        ),
        (
            (
                _("SLA policy, 3.4: AWS Health events"),
                "document",
                ("SLA-POLICY",),
                "aws-health-events",
            ),
            (
                _("Contract, article 2.4: AWS integration"),
                "document",
                (CONTRACT,),
                "aws-integration",
            ),
            (
                _("AWS Health events (workspace)"),
                "admin:aws_integrations_healthevent_changelist",
                (),
                "",
            ),
            (_("Sync runs (workspace)"), "admin:aws_integrations_syncrun_changelist", (), ""),
        ),
    ),
]

SPT_BY_CODE = {item.code: item for item in SPT_ITEMS}

EvidenceProvider = Callable[..., list[Evidence]]
_providers: dict[str, list[EvidenceProvider]] = {}


@dataclass
class ItemEvidence:
    item: SPTItem
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def places(self) -> list[tuple[str, str]]:
        return place_links(self.item)

    @property
    def complete(self) -> bool:
        return bool(self.evidence) and all(e.ok for e in self.evidence)


def register_evidence(code: str, provider: EvidenceProvider) -> None:
    if code not in SPT_BY_CODE:
        raise ValueError(f"Unknown SPT item {code!r}")
    _providers.setdefault(code, [])
    if provider not in _providers[code]:
        _providers[code].append(provider)


def place_links(item: SPTItem) -> list[tuple[str, str]]:
    from django.urls import NoReverseMatch, reverse

    links = []
    for label, name, args, anchor in item.places:
        try:
            url = reverse(name, args=args)
        except NoReverseMatch:
            continue
        links.append((label, f"{url}#{anchor}" if anchor else url))
    return links


def evidence_for(code: str, request) -> ItemEvidence:
    result = ItemEvidence(SPT_BY_CODE[code])
    for provider in _providers.get(code, []):
        result.evidence.extend(provider(request))
    return result
