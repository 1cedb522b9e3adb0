"""Mail that must never open a ticket nor get an automatic reply: auto-replies and bounces.

The headers are those seen in the wild (REFERENCES.md: Zammad, sisimai): Auto-Submitted
other than "no", X-Autoreply, X-Autorespond, Precedence bulk/junk/list/auto_reply,
X-Auto-Response-Suppress (Exchange out-of-office replies often carry only this and an
"Automatic reply:" subject), X-Loop; bounces are multipart/report delivery-status
messages, MAILER-DAEMON/postmaster senders, or a null Return-Path.
"""

import re
from dataclasses import dataclass

from .mime import ParsedEmail, storable

AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?re(ply|spons)|out of (the )?office|自动回复|自動回覆|"
    r"休假|不在办公室)",
    re.IGNORECASE,
)
BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    kind: str  # "auto_reply", "bounce" or "" (a person wrote)
    reason: str
    bounced_recipients: tuple[str, ...] = ()


def classify(parsed: ParsedEmail) -> Verdict:
    message = parsed.message
    content_type = (message.get_content_type() or "").lower()
    report_type = (message.get_param("report-type") or "").lower()
    if content_type == "multipart/report" and report_type == "delivery-status":
        return Verdict("bounce", "multipart/report delivery-status", _failed_recipients(parsed))
    if BOUNCE_SENDER.match(parsed.from_address):
        return Verdict("bounce", f"sender {parsed.from_address}", _failed_recipients(parsed))
    auto_submitted = _header(message, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return Verdict("auto_reply", f"Auto-Submitted: {auto_submitted}")
    for header in ("X-Autoreply", "X-Autorespond", "X-Loop"):
        if message.get(header):
            return Verdict("auto_reply", f"{header} present")
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return Verdict("auto_reply", f"Precedence: {precedence}")
    if message.get("X-Auto-Response-Suppress") and AUTO_SUBJECT.search(parsed.subject):
        return Verdict("auto_reply", "X-Auto-Response-Suppress with an automatic-reply subject")
    if AUTO_SUBJECT.search(parsed.subject):
        return Verdict("auto_reply", "automatic-reply subject")
    # RFC 3834 auto-replies also use a null Return-Path, so it decides only now.
    if _header(message, "Return-Path").strip() == "<>":
        return Verdict("bounce", "null Return-Path", _failed_recipients(parsed))
    return Verdict("", "")


def _header(message, name: str) -> str:
    # A header with raw 8-bit bytes comes back as an email.header.Header, not a str.
    return storable(str(message.get(name) or ""))


def _failed_recipients(parsed: ParsedEmail) -> tuple[str, ...]:
    """Final-Recipient addresses with Action: failed, from the delivery-status part."""
    found: list[str] = []
    for part in parsed.message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        for block in blocks:
            action = _header(block, "Action").strip().lower()
            recipient = _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
            if action in ("failed", "") and ";" in recipient:
                found.append(recipient.split(";", 1)[1].strip().strip("<>").lower())
    return tuple(dict.fromkeys(found))
