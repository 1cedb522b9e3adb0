"""The Document Center: policy documents in Markdown (docs/policies/<SLUG>.<lang>.md),
rendered with Python-Markdown and sanitised with nh3, with values the system also holds
(SLA targets, poll intervals, contacts) filled in from the live configuration, so document
and system cannot disagree. Apps register the values they own (``register_values``);
every change of a shown value or of the text records a new ``DocumentVersion``.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template import Context, Engine
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .markup import clean, markdown_converter
from .models import DocumentVersion

logger = logging.getLogger(__name__)

POLICY_DIR = Path(settings.BASE_DIR) / "docs" / "policies"
DOCUMENTS = {
    "SLA-POLICY": _("Service Level Agreement (SLA) Policy"),
    "CUSTOMER-SERVICE-CONTRACT-TEMPLATE": _("Customer Service Contract (template)"),
    "INCIDENT-RESPONSE": _("Incident Response"),
}
_ENGINE = Engine(autoescape=True, libraries={"portal": "spt_portal.templatetags.portal"})

ValuesProvider = Callable[[], dict]
_providers: dict[str, ValuesProvider] = {}


def register_values(name: str, provider: ValuesProvider) -> None:
    """An app provides the live values it owns, e.g. ``sla`` -> {"critical": {...}}."""
    _providers[name] = provider


def live_values() -> dict:
    values = {
        "support": {
            "email": settings.SUPPORT_EMAIL_ADDRESS,
            "hotline": settings.SUPPORT_HOTLINE,
            "portal": f"{settings.SITE_URL}/portal/",
        }
    }
    for name, provider in _providers.items():
        values[name] = provider()
    return values


def _flatten(values: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, path))
        else:
            flat[path] = str(value)
    return flat


def _source(slug: str, language: str) -> str:
    for lang in (language, "en"):
        path = POLICY_DIR / f"{slug}.{lang}.md"
        if path.exists():
            return path.read_text(encoding="utf-8")
    raise KeyError(slug)


def _text_hash(slug: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(POLICY_DIR.glob(f"{slug}.*.md")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Rendered:
    slug: str
    title: str
    html: str
    toc: list[dict]
    version: DocumentVersion


def render(slug: str, language: str | None = None) -> Rendered:
    if slug not in DOCUMENTS:
        raise KeyError(slug)
    language = language or get_language() or "en"
    version = record_versions(slugs=[slug])[slug]
    with translation.override(language):
        values = live_values()
    source = _ENGINE.from_string(_source(slug, language)).render(Context(values))
    md = markdown_converter()
    html = clean(md.convert(source))
    toc = []
    for token in md.toc_tokens:
        for heading in [token, *token.get("children", [])]:
            if heading["level"] in (2, 3):
                toc.append(
                    {"id": heading["id"], "name": heading["name"], "level": heading["level"]}
                )
    title = (
        md.toc_tokens[0]["name"]
        if md.toc_tokens and md.toc_tokens[0]["level"] == 1
        else str(DOCUMENTS[slug])
    )
    return Rendered(slug=slug, title=title, html=html, toc=toc, version=version)


def record_versions(*, slugs=None, values=None, actor=None) -> dict[str, DocumentVersion]:
    """Record a new version of each document whose shown values or text changed since its
    latest version (what changed, old -> new, when, by whom). Idempotent. Values are
    compared in English, so reading a document in another language changes nothing."""
    if values is None:
        with translation.override("en"):
            values = live_values()
    flat = _flatten(values)
    result = {}
    for slug in slugs or DOCUMENTS:
        text_hash = _text_hash(slug)
        latest = DocumentVersion.objects.filter(slug=slug).order_by("-number").first()
        if latest is not None and latest.values == flat and latest.text_hash == text_hash:
            result[slug] = latest
            continue
        changes = []
        if latest is not None:
            for key in sorted(set(flat) | set(latest.values)):
                old, new = latest.values.get(key, ""), flat.get(key, "")
                if old != new:
                    changes.append({"field": key, "old": old, "new": new})
            if latest.text_hash != text_hash:
                changes.append(
                    {"field": "text", "old": latest.text_hash[:12], "new": text_hash[:12]}
                )
        try:
            with transaction.atomic():
                result[slug] = DocumentVersion.objects.create(
                    slug=slug,
                    number=(latest.number + 1) if latest else 1,
                    values=flat,
                    text_hash=text_hash,
                    changes=changes,
                    created_by=actor if actor is not None and actor.is_authenticated else None,
                )
        except IntegrityError:  # another process recorded it at the same moment
            result[slug] = DocumentVersion.objects.filter(slug=slug).order_by("-number").first()
    return result
