"""Unit tests of the email parsing rules (charsets, headers, quotes, loops)."""

import pytest

from tickets.inbound.loops import classify
from tickets.inbound.mime import decode_bytes, decode_text_header, parse, repair_headers
from tickets.inbound.quotes import strip_quotes


def test_encoded_words_splitting_one_character_are_joined():
    # From Kopano's sample: "☺" (e2 98 ba) split over three encoded words.
    assert decode_text_header("=?utf-8?q?=e2?==?utf-8?q?=98?==?utf-8?q?=ba?=") == "☺"


def test_gb2312_label_with_gbk_bytes_decodes_as_gb18030():
    # "讀取" is GBK-only (not in GB2312): strict gb2312 fails, GB18030 reads it.
    assert decode_text_header("=?gb2312?B?13jIoQ==?=") == "讀取"
    assert decode_bytes("讀取".encode("gbk"), "gb2312") == "讀取"


def test_gb_label_on_utf8_bytes_reads_utf8():
    assert decode_bytes("代开发票".encode(), "gb2312") == "代开发票"


def test_undecodable_bytes_never_raise():
    assert decode_bytes(b"\xff\xfe\x00", "no-such-charset")
    assert decode_bytes(b"\x81", "utf-16") is not None


def test_malformed_header_line_does_not_end_the_headers():
    raw = b"From: a@b.example\r\nbad header line\r\nSubject: kept\r\n\r\nbody"
    assert b"bad header" not in repair_headers(raw)
    assert parse(raw).subject == "kept"


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, fixed.\n\n-----原始邮件-----\n发件人: support@partner.example\n发送时间: 2026年3月2日\n主题: x\n",
        'Thanks, fixed.\n\n------------------ 原始邮件 ------------------\n发件人: "SPT"<support@partner.example>;\n',
        "Thanks, fixed.\n\n在 2026年3月2日 10:00，SPT <support@partner.example> 写道：\n> old\n",
        "Thanks, fixed.\n\nOn Mon, Mar 2, 2026 at 10:00 AM SPT <support@partner.example>\nwrote:\n> old\n",
        "Thanks, fixed.\n\nFrom: SPT <support@partner.example>\nSent: Monday, March 2, 2026 10:00\nTo: me\n",
        "Thanks, fixed.\n\n##- 请在此行以上输入回复 -##\nold text\n",
        "Thanks, fixed.\n-- \nAlice, Acme Corp\n+86 21 1234 5678\n",
        "Thanks, fixed.\n> quoted\n> more\n",
    ],
)
def test_quoted_history_is_stripped(text):
    assert strip_quotes(text) == "Thanks, fixed."


def test_a_message_that_is_all_quote_is_kept():
    assert strip_quotes("> only a quote") == "> only a quote"


def test_forwarded_content_is_kept():
    text = "FYI\n\n---------- Forwarded message ----------\nFrom: AWS\nThe instance is retired."
    assert "The instance is retired." in strip_quotes(text)


@pytest.mark.parametrize(
    "headers, kind",
    [
        ("Auto-Submitted: auto-replied", "auto_reply"),
        ("Auto-Submitted: no", ""),
        ("X-Autoreply: yes", "auto_reply"),
        ("Precedence: bulk", "auto_reply"),
        ("X-Auto-Response-Suppress: All\r\nSubject: Automatic reply: hi", "auto_reply"),
        ("Subject: 自动回复: 您好", "auto_reply"),
        ("Return-Path: <>", "bounce"),
    ],
)
def test_loop_headers(headers, kind):
    raw = f"From: x@y.example\r\n{headers}\r\n\r\nbody".encode()
    assert classify(parse(raw)).kind == kind


def test_html_only_mail_becomes_text_without_markup():
    raw = (
        b"From: x@y.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{}</style><script>alert(1)</script></head>"
        b"<body><p>Hello&nbsp;<b>world</b></p><p>line 2</p></body></html>"
    )
    text = parse(raw).text
    assert "Hello world" in text and "line 2" in text
    assert "<" not in text and "alert" not in text
