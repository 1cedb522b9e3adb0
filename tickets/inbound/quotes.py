"""Strip quoted history and signatures from a reply, keeping what the person wrote.

A tested rule set for the reply styles our customers send: Gmail and Apple Mail
("On … wrote:"), Outlook ("-----Original Message-----" or a "From: … Sent: …" block),
Foxmail/QQ ("------------------ 原始邮件 ------------------"), NetEase ("-----原始邮件-----"),
Chinese Gmail ("在 … 写道："), our own "reply above this line" marker, trailing ">" quotes
and "-- " signatures. Forwarded messages are kept: what a customer forwards is the
information. If stripping would leave nothing, the whole text is kept.
"""

import re

# Our outbound emails start with "##- <translated text> -##"; replies are cut there.
REPLY_MARKER = re.compile(r"^\s*>?\s*##- .{1,80} -##\s*$")

CUT_LINE = [
    re.compile(r"^\s*-{2,}\s*(Original Message|原始邮件|原始郵件)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*-{5,}\s*原始邮件\s*-{5,}\s*$"),
    re.compile(r"^\s*On .{1,200}wrote:\s*$", re.I),
    re.compile(r"^\s*>?\s*On .{1,200}wrote:\s*$", re.I),
    re.compile(r"^\s*在\s*.{1,120}(写道|寫道)[:：]\s*$"),
    re.compile(r"^\s*_{20,}\s*$"),
    REPLY_MARKER,
]
# "From: x" followed within three lines by "Sent:"/"Date:"/"发送时间:" (Outlook, Foxmail).
FROM_LINE = re.compile(r"^\s*\*?(From|发件人|寄件者)\s*\*?\s*[:：]", re.I)
SENT_LINE = re.compile(r"^\s*\*?(Sent|Date|发送时间|日期|時間)\s*\*?\s*[:：]", re.I)
SIGNATURE = re.compile(r"^--\s?$")
# "On Mon, Apr 2, 2012 at 6:26 PM, Megan <x@y>" then "wrote:" on the next line.
ON_START = re.compile(r"^\s*On .{5,200}$", re.I)


def strip_quotes(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        if any(rule.match(line) for rule in CUT_LINE):
            cut = index
            break
        if (
            ON_START.match(line)
            and index + 1 < len(lines)
            and lines[index + 1].strip().endswith("wrote:")
        ):
            cut = index
            break
        if FROM_LINE.match(line) and any(
            SENT_LINE.match(following) for following in lines[index + 1 : index + 4]
        ):
            cut = index
            break
        if SIGNATURE.match(line):
            cut = index
            break
    kept = lines[:cut]
    while kept and (kept[-1].startswith(">") or not kept[-1].strip()):
        kept.pop()
    result = "\n".join(kept).strip()
    return result or text.strip()
