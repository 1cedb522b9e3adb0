"""Attachment file names from outside (browsers, email, the API), made safe to store and show.

A name keeps its letters (Chinese included) and its extension; it loses any folder part,
control and invisible formatting characters (a right-to-left override can make
``invoice\u202egpj.exe`` look like ``invoiceexe.jpg``), characters that are special in file
systems or headers, and leading dots. Nothing is ever served from this name: downloads are
``Content-Disposition: attachment`` with ``application/octet-stream``.
"""

import re
import unicodedata

_UNSAFE = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
MAX_LENGTH = 200


def safe_filename(name: str | None, default: str = "attachment") -> str:
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_LENGTH]
    return name or default
