"""From an SES "Received" notification to a ticket or a comment, exactly once.

Order (REFERENCES.md: osTicket and Zammad; not django-helpdesk's subject-only threading):
1. idempotency on the SES message id; 2. SES verdicts (spam/virus, DMARC per settings);
3. auto-replies and bounces (never a ticket, never an automatic email back; a bounce marks
the contact's address as failing); 4. the sender -> a customer contact (created when the
domain belongs to a customer and the policy allows), unknown senders per policy;
5. threading: our own Message-IDs in In-Reply-To/References (newest first), then ids of
earlier inbound mail, then a [TKT-…] subject token accepted only from the requester or a
contact of that ticket's customer; 6. a reply to a closed ticket reopens it within the
reopen window, otherwise opens a new ticket that refers to the old one.
"""

import base64
import binascii
import logging
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from spt_portal.models import CustomerEmailDomain, NotificationLog, User
from spt_portal.notifications import notify_email
from spt_portal.roles import Role

from .. import services
from ..models import Attachment, Comment, CommentSource, InboundEmail, Source, Status, Ticket
from .loops import classify
from .mime import ParsedEmail, parse
from .quotes import strip_quotes

logger = logging.getLogger(__name__)

TOKEN = re.compile(r"\[(TKT-\d{6,})\]")
ROOT_ID = re.compile(r"^<ticket-(\d{1,18})@")  # int() refuses 4,300+ digits


class InboundError(ValueError):
    """The notification is not a usable SES receipt (logged, answered with 400)."""


def _object(value) -> dict:
    # The notification is signed by SNS, but its parts are still only what JSON allows.
    return value if isinstance(value, dict) else {}


def _raw_content(notification: dict) -> bytes:
    content = notification.get("content")
    if not isinstance(content, str) or not content:
        raise InboundError(
            "no message content: the SES action must publish the message (SNS action); "
            "messages over 150 KB need the S3 action"
        )
    encoding = _object(_object(notification.get("receipt")).get("action")).get("encoding")
    if str(encoding).upper() == "BASE64":
        try:
            return base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise InboundError("content is not base64") from exc
    return content.encode("utf-8", errors="surrogateescape")


def _verdicts(notification: dict) -> dict:
    receipt = _object(notification.get("receipt"))
    return {
        name: str(_object(receipt.get(f"{name}Verdict")).get("status", ""))
        for name in ("spam", "virus", "spf", "dkim", "dmarc")
    }


def process_notification(notification: dict) -> InboundEmail:
    """Process one SES Received notification; a redelivered one changes nothing."""
    if not isinstance(notification, dict):
        raise InboundError("the notification is not a JSON object")
    if notification.get("notificationType") != "Received":
        raise InboundError(f"not a Received notification: {notification.get('notificationType')!r}")
    mail = _object(notification.get("mail"))
    ses_id = str(mail.get("messageId") or "")
    if not ses_id:
        raise InboundError("missing mail.messageId")
    existing = InboundEmail.objects.filter(ses_message_id=ses_id).first()
    if existing is not None:
        return existing
    raw = _raw_content(notification)
    try:
        with transaction.atomic():
            record = InboundEmail.objects.create(
                ses_message_id=ses_id, verdicts=_verdicts(notification)
            )
            # Written with the outcome: every way through _handle ends in _finish's save.
            record.raw.save(f"{ses_id[:80]}.eml", ContentFile(raw), save=False)
            _handle(record, raw)
    except IntegrityError:
        # Two deliveries raced; the other one did the work.
        other = InboundEmail.objects.filter(ses_message_id=ses_id).first()
        if other is None:
            raise
        return other
    logger.info(
        "inbound email %s from %s: %s %s", ses_id, record.sender, record.outcome, record.reason
    )
    return record


def _finish(record: InboundEmail, outcome: str, reason: str = "", **fields) -> None:
    record.outcome = outcome
    record.reason = reason
    for name, value in fields.items():
        setattr(record, name, value)
    record.save()


def _handle(record: InboundEmail, raw: bytes) -> None:
    parsed = parse(raw)
    record.message_id = parsed.message_id[:998]
    record.sender = parsed.from_address[:320]
    record.subject = parsed.subject[:998]

    if parsed.message_id and (
        Comment.objects.filter(email_message_id=parsed.message_id).exists()
        or InboundEmail.objects.filter(message_id=parsed.message_id, ticket__isnull=False).exists()
    ):
        return _finish(record, InboundEmail.Outcome.DUPLICATE, "Message-ID already processed")

    verdicts = record.verdicts
    for name in ("spam", "virus"):
        if verdicts.get(name) == "FAIL":
            return _finish(record, InboundEmail.Outcome.QUARANTINED, f"{name} verdict FAIL")
    if settings.EMAIL_QUARANTINE_DMARC_FAIL and verdicts.get("dmarc") == "FAIL":
        return _finish(record, InboundEmail.Outcome.QUARANTINED, "DMARC verdict FAIL")
    if settings.EMAIL_QUARANTINE_SPF_FAIL and verdicts.get("spf") == "FAIL":
        return _finish(record, InboundEmail.Outcome.QUARANTINED, "SPF verdict FAIL")

    verdict = classify(parsed)
    if verdict.kind == "auto_reply":
        return _finish(record, InboundEmail.Outcome.AUTO_REPLY, verdict.reason)
    if verdict.kind == "bounce":
        failed = User.objects.filter(email__in=verdict.bounced_recipients)
        marked = failed.update(email_bounced_at=timezone.now())
        return _finish(
            record,
            InboundEmail.Outcome.BOUNCE,
            f"{verdict.reason}; failed: {', '.join(verdict.bounced_recipients) or 'unknown'}"
            f"; contacts marked: {marked}",
        )
    if not parsed.from_address or "@" not in parsed.from_address:
        return _finish(record, InboundEmail.Outcome.REJECTED, "no sender address")

    sender = _sender(parsed)
    ticket = _thread(parsed, sender)
    body = strip_quotes(parsed.text)
    if ticket is not None:
        ticket = _reopen_or_follow(ticket, sender, record)
    if ticket is not None and ticket.status != Status.CLOSED:
        comment = services.comment_add(
            ticket=ticket,
            author=sender,
            author_name=parsed.from_name or parsed.from_address,
            body=body or _("(no text)"),
            source=CommentSource.EMAIL,
        )
        Comment.objects.filter(pk=comment.pk).update(email_message_id=parsed.message_id or None)
        _attach(ticket, comment, parsed, raw=record.raw)
        return _finish(record, InboundEmail.Outcome.COMMENT, "", ticket=ticket, comment=comment)

    customer = sender.customer if sender is not None else None
    if customer is None and settings.EMAIL_UNKNOWN_SENDER_POLICY != "triage":
        _polite_refusal(parsed)
        return _finish(
            record, InboundEmail.Outcome.REJECTED, f"unknown sender {parsed.from_address}"
        )
    description = body
    if ticket is not None:  # a reply to a ticket closed too long ago
        description = _("Follow-up to %(number)s.") % {"number": ticket.number} + "\n\n" + body
    if customer is None:  # triage: an internal ticket engineers sort out
        description = (
            _("From a sender who is not a customer contact: %(sender)s")
            % {"sender": parsed.from_address}
            + "\n\n"
            + description
        )
    new = services.ticket_create(
        customer=customer,
        requester=sender if customer is not None else None,
        title=(parsed.subject or _("(no subject)"))[:500],
        description=description,
        source=Source.EMAIL,
        actor=sender,
    )
    if ticket is not None:
        Ticket.objects.filter(pk=new.pk).update(follow_up_of=ticket)
    _attach(new, None, parsed, raw=record.raw)
    return _finish(
        record,
        InboundEmail.Outcome.TICKET,
        "" if customer is not None else "sender is not a customer contact: triage ticket",
        ticket=new,
    )


def _polite_refusal(parsed: ParsedEmail) -> None:
    """Tell an unknown sender how to reach us: a normal email (not a bounce), marked as an
    automatic reply, at most one a day per address, never in answer to automatic mail."""
    notify_email(
        to=parsed.from_address,
        template="email_rejected",
        language=settings.LANGUAGE_CODE,
        context={"subject": parsed.subject, "contact_url": f"{settings.SITE_URL}/support/contact"},
        dedupe_key=f"refusal:{parsed.from_address}:{timezone.now():%Y-%m-%d}",
    )


def _sender(parsed: ParsedEmail) -> User | None:
    """The sender as a user: an existing one, or a new contact of the customer that owns
    the sender's domain (when EMAIL_CREATE_CONTACTS allows)."""
    address = parsed.from_address
    user = User.objects.select_related("customer").filter(email__iexact=address).first()
    if user is not None:
        return user if user.is_active else None
    domain = address.rsplit("@", 1)[-1]
    owner = CustomerEmailDomain.objects.select_related("customer").filter(domain=domain).first()
    if owner is None or not owner.customer.is_active or not settings.EMAIL_CREATE_CONTACTS:
        return None
    from django.contrib.auth.models import Group

    contact = User.objects.create_user(
        address,
        full_name=parsed.from_name[:150],
        customer=owner.customer,
        preferred_language=owner.customer.default_language,
    )
    contact.groups.add(Group.objects.get(name=Role.CUSTOMER))
    return contact


def _ticket_from_message_ids(ids: list[str], sender: User | None) -> Ticket | None:
    """Newest first: our thread root, our notifications' Message-IDs, earlier inbound mail."""
    domain = settings.EMAIL_MESSAGE_ID_DOMAIN
    for message_id in reversed(ids):
        root = ROOT_ID.match(message_id)
        if root and message_id.endswith(f"@{domain}>"):
            ticket = Ticket.objects.filter(pk=int(root.group(1))).first()
            # The root id is as easy to forge as a subject token (it is the ticket's pk).
            if ticket is not None and _writes_for(ticket, sender):
                return ticket
        log = NotificationLog.objects.filter(message_id=message_id).first()
        target = log.target if log is not None and log.content_type_id else None
        if isinstance(target, Ticket):
            return target
        if isinstance(target, Comment):
            return target.ticket
        comment = (
            Comment.objects.filter(email_message_id=message_id).select_related("ticket").first()
        )
        if comment is not None:
            return comment.ticket
        earlier = InboundEmail.objects.filter(message_id=message_id, ticket__isnull=False).first()
        if earlier is not None:
            return earlier.ticket
    return None


def _writes_for(ticket: Ticket, sender: User | None) -> bool:
    """Whether ``sender`` is the requester or a contact of the ticket's customer."""
    if sender is None:
        return False
    if ticket.requester_id == sender.pk:
        return True
    return ticket.customer_id is not None and sender.customer_id == ticket.customer_id


def _thread(parsed: ParsedEmail, sender: User | None) -> Ticket | None:
    ticket = _ticket_from_message_ids(parsed.references + parsed.in_reply_to, sender)
    if ticket is not None:
        return ticket
    match = TOKEN.search(parsed.subject)
    if match is None or sender is None:
        return None
    ticket = Ticket.objects.filter(number=match.group(1)).first()
    # A subject token alone is easy to forge: only the requester or the ticket's customer.
    if ticket is None or not _writes_for(ticket, sender):
        return None
    return ticket


def _reopen_or_follow(ticket: Ticket, sender: User | None, record) -> Ticket:
    if ticket.status != Status.CLOSED and ticket.status != Status.RESOLVED:
        return ticket
    try:
        return services.ticket_reopen(
            ticket=ticket, actor=sender, reason=_("The customer replied by email.")
        )
    except services.TicketError:
        return ticket  # outside the reopen window: the caller opens a new ticket


def _attach(ticket: Ticket, comment, parsed: ParsedEmail, *, raw) -> None:
    """Attachments within the limits; others are listed in a staff note. The original
    message is kept for engineers as original.eml."""
    skipped = []
    for item in parsed.attachments:
        upload = SimpleUploadedFile(item.filename, item.data, content_type=item.content_type)
        try:
            services._validate_attachment(upload)
        except services.TicketError as exc:
            skipped.append(f"{item.filename}: {exc}")
            continue
        Attachment.objects.create(
            ticket=ticket,
            comment=comment,
            file=upload,
            filename=item.filename,
            content_type=item.content_type[:100],
            size=len(item.data),
        )
    raw.open("rb")
    try:
        Attachment.objects.create(
            ticket=ticket,
            comment=comment,
            file=ContentFile(raw.read(), name="original.eml"),
            filename="original.eml",
            content_type="message/rfc822",
            size=raw.size,
            staff_only=True,
        )
    finally:
        raw.close()
    if skipped:
        services.comment_add(
            ticket=ticket,
            author=None,
            author_name="SPT Portal",
            body=_("Attachments not stored:") + "\n" + "\n".join(skipped),
            visibility="internal",
            source=CommentSource.SYSTEM,
        )
