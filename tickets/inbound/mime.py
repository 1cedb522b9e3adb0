"""Parse a raw email into what a ticket needs, whatever its encodings.

Standard library ``email`` does the MIME work; this module adds the charset fallbacks
real mail needs: GB2312/GBK labels are decoded as GB18030 (a superset; mail labelled
GB2312 often holds GBK-only bytes), a body labelled GB* that is valid UTF-8 is read as
UTF-8, RFC 2047 words split across a multibyte character are joined before decoding, and
nothing ever raises on bad bytes (the last resort replaces them).
"""

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.header import Header, decode_header
from email.message import Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from tickets.filenames import safe_filename

GB_FAMILY = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "gb18030", "cp936", "euc-cn", "hz-gb-2312"}
SEVEN_BIT = ("iso-2022", "utf-7", "hz-")


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass
class ParsedEmail:
    message: Message
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_name: str
    from_address: str
    to: list[str]
    cc: list[str]
    text: str
    html: str
    attachments: list[ParsedAttachment] = field(default_factory=list)

    def header(self, name: str) -> str:
        return decode_text_header(self.message.get(name, ""))


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with what no database keeps replaced by U+FFFD: NUL (PostgreSQL refuses
    it) and lone surrogates (not UTF-8; charsets such as UTF-7 or unicode_escape yield
    them)."""
    return _UNSTORABLE.sub("\ufffd", text)


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Decode with the declared charset, falling back instead of failing."""
    return storable(_decode(data, declared))


def _decode(data: bytes, declared: str | None) -> str:
    declared = (declared or "").strip().lower().strip('"')
    candidates: list[str] = []
    if declared in GB_FAMILY:
        candidates = ["utf-8", "gb18030"]
    elif declared:
        candidates = [declared] if declared.startswith(SEVEN_BIT) else [declared, "utf-8"]
    else:
        candidates = ["utf-8"]
    for charset in candidates:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeError):  # idna and punycode raise plain UnicodeError
            continue
    if declared and declared not in GB_FAMILY:
        try:  # the declared charset with the broken bytes replaced beats a wrong guess
            return data.decode(declared, errors="replace")
        except (LookupError, UnicodeError):  # some codecs cannot replace
            pass
    for charset in ("gb18030", "big5"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1", errors="replace")


_ENCODED_WORD_GAP = re.compile(r"(\?=)\s+(=\?)")


def decode_text_header(value) -> str:
    """An RFC 2047 header as text; adjacent encoded words are joined before decoding, so a
    character split across two words survives."""
    if value is None:
        return ""
    if isinstance(value, Header):
        # Raw 8-bit bytes in a header: the parser keeps them as "unknown-8bit".
        value = "".join(
            decode_bytes(data, None if charset in (None, "unknown-8bit") else charset)
            if isinstance(data, bytes)
            else data
            for data, charset in decode_header(value)
        )
    raw = str(value)
    if re.search("[\udc80-\udcff]", raw):
        # Raw 8-bit header bytes (no encoded words), kept by the parser as surrogates.
        raw = decode_bytes(raw.encode("utf-8", errors="surrogateescape"), None)
    raw = _ENCODED_WORD_GAP.sub(r"\1\2", raw)
    try:
        parts = decode_header(raw)
    except Exception:  # malformed headers: keep the raw text
        return storable(raw)
    # Join runs of the same charset before decoding (split multibyte characters).
    merged: list[tuple[bytes, str | None]] = []
    for data, charset in parts:
        if isinstance(data, str):
            data, charset = data.encode("utf-8", errors="surrogateescape"), None
        if merged and merged[-1][1] == charset:
            merged[-1] = (merged[-1][0] + data, charset)
        else:
            merged.append((data, charset))
    text = "".join(decode_bytes(data, charset) for data, charset in merged)
    return " ".join(text.split()) if "\n" in text else text.strip()


_MSGID = re.compile(r"<[^<>\s]+>")
# Real Message-IDs are well under 100 bytes. A longer one is ignored (the email is still
# taken, by its SES id): the indexed columns that store them (a btree row holds ~2,700
# bytes in PostgreSQL) must never refuse a hostile header.
MAX_MSGID_BYTES = 500


def message_ids(value) -> list[str]:
    return [
        found
        for found in _MSGID.findall(storable(str(value or "")))
        if len(found.encode()) <= MAX_MSGID_BYTES
    ]


class _TextFromHTML(HTMLParser):
    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "table",
    }
    SKIP = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text from HTML (no markup survives: the result is shown escaped)."""
    parser = _TextFromHTML()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; this is belt and braces
        return re.sub(r"<[^>]+>", " ", html)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return storable(payload)
        return ""
    return decode_bytes(payload, part.get_content_charset())


def _filename(part: Message) -> str:
    name = part.get_filename()
    if name is None:
        name = part.get_param("name")
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
    name = decode_text_header(name) if name else ""
    return safe_filename(name, default="")


_FIELD = re.compile(rb"^[!-9;-~]+:")


def repair_headers(raw: bytes) -> bytes:
    """Drop header lines that are not "Name: value" (nor their continuations).

    The standard library stops reading headers at the first malformed line and treats the
    rest, Content-Type included, as body; real mail sometimes carries such lines.
    """
    match = re.search(rb"\r?\n\r?\n", raw)
    if match is None:
        return raw
    head, rest = raw[: match.start()], raw[match.start() :]
    kept: list[bytes] = []
    keeping = True
    for line in re.split(rb"(?<=\n)", head):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if keeping:
                kept.append(line)
        elif _FIELD.match(line) or line.startswith(b"From "):
            keeping = True
            kept.append(line)
        else:
            keeping = False
    return b"".join(kept).rstrip(b"\r\n") + rest


def parse(raw: bytes) -> ParsedEmail:
    message = email.message_from_bytes(repair_headers(raw), policy=email.policy.compat32)
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[ParsedAttachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        # str(): a header with raw 8-bit bytes is an email.header.Header.
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = _filename(part)
        if content_type in ("message/delivery-status", "message/rfc822", "text/rfc822-headers"):
            continue
        is_body = not filename and disposition != "attachment"
        if is_body and content_type == "text/plain":
            text_parts.append(_part_text(part))
        elif is_body and content_type == "text/html":
            html_parts.append(_part_text(part))
        elif is_body and content_type.startswith("text/"):
            text_parts.append(_part_text(part))
        else:
            data = part.get_payload(decode=True) or b""
            if not data:
                continue
            attachments.append(
                ParsedAttachment(
                    filename=filename or f"attachment-{len(attachments) + 1}",
                    content_type=storable(content_type),
                    data=data,
                    inline=disposition == "inline" or bool(part.get("Content-ID")),
                )
            )
    name, address = parseaddr(decode_text_header(message.get("From", "")))
    html = "\n".join(html_parts)
    text = "\n".join(t for t in text_parts if t.strip())
    if not text.strip() and html:
        text = html_to_text(html)
    return ParsedEmail(
        message=message,
        message_id=(message_ids(message.get("Message-ID")) or [""])[0],
        in_reply_to=message_ids(message.get("In-Reply-To")),
        references=message_ids(message.get("References")),
        subject=decode_text_header(message.get("Subject", "")),
        from_name=name,
        from_address=address.strip().lower(),
        to=[storable(a.lower()) for _n, a in getaddresses(message.get_all("To", [])) if a],
        cc=[storable(a.lower()) for _n, a in getaddresses(message.get_all("Cc", [])) if a],
        text=text.replace("\r\n", "\n"),
        html=html,
        attachments=attachments,
    )
