"""Input from people and machines that the database cannot take as it is."""

MAX_DIGITS = 18  # always within BigAutoField's range (2**63 - 1 has 19 digits)


def row_id(value) -> int | None:
    """``value`` as a row id, or None when it is not 1 to 18 ASCII digits.

    ``str.isdigit()`` alone accepts "²" (which ``int()`` refuses), and a number past 64
    bits makes ``pk__in`` fail with a 500 on SQLite and PostgreSQL.
    """
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS:
        number = int(text)
        return number or None
    return None


def has_nul(value) -> bool:
    """A NUL character anywhere in a string or a parsed JSON/query value (keys too):
    PostgreSQL can neither store nor compare text holding one."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(item) for item in value)
    return False
