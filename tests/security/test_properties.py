"""Property tests (Hypothesis) for the code that takes input from outside or keeps time:

a. the SLA clock: business-time arithmetic, deadlines, pauses, China's holidays;
b. inbound email: the MIME parser, loop detection, quote stripping, the processing of an
   SES notification and the SES webhook;
c. the rule engine's condition and action validation, and matching.

Each property is bounded (a fixed number of examples, derandomized, no example database)
so the file runs in well under a minute. Examples that once broke the code are pinned
with ``@example`` next to the property that found them.

Tests that touch the database share one pytest-django transaction across all of their
examples (function-scoped fixtures are not reset between examples), so rows accumulate
within a test; each property is written to hold whatever earlier examples left behind.
"""

import base64
import itertools
import json
import os
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from sla.calendar import business_minutes_between, is_working_day
from sla.models import BusinessCalendar

# Hypothesis keeps caches (constants, Unicode tables) even without an example database:
# outside the repository. (tests/settings.py would be the better home for this line.)
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "spt-hypothesis")
)

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        # Fixtures (the database, a signing key) are shared by a test's examples on purpose.
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

DB_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=100)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIMEZONES = ["Asia/Shanghai", "UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]


# --- a. the SLA clock ------------------------------------------------------------------


def _calendar(**fields) -> BusinessCalendar:
    # Not saved: the arithmetic needs no database.
    defaults = {
        "name": "office",
        "is_24x7": False,
        "timezone": "Asia/Shanghai",
        "workday_start": time(9),
        "workday_end": time(18),
        "working_weekdays": [0, 1, 2, 3, 4],
        "holiday_country": "CN",
    }
    return BusinessCalendar(**{**defaults, **fields})


@st.composite
def calendars(draw):
    """Working-hours calendars: at least an hour a day on at least two weekdays, China's
    holidays or none, a few timezones (with DST too)."""
    opens = draw(st.integers(0, 22 * 60 + 59))
    closes = draw(st.integers(opens + 60, 23 * 60 + 59))
    fields = {
        "timezone": draw(st.sampled_from(TIMEZONES)),
        "workday_start": time(*divmod(opens, 60)),
        "workday_end": time(*divmod(closes, 60)),
        "working_weekdays": sorted(draw(st.sets(st.integers(0, 6), min_size=2))),
        "holiday_country": draw(st.sampled_from(["CN", ""])),
    }
    # The name is what a failure shows of the calendar.
    name = " ".join(str(value) for value in fields.values())
    return _calendar(name=name, **fields)


def add_business_minutes(start, amount, calendar):
    from sla import calendar as business_time

    try:
        return business_time.add_business_minutes(start, amount, calendar)
    except ValueError:
        # By design: a deadline past MAX_DAYS (three years) of searching means a broken
        # calendar and is refused. Only the thinnest generated calendars get here.
        assume(False)


def deadlines_for(**arguments):
    from sla import services

    try:
        return services.deadlines_for(**arguments)
    except ValueError:
        assume(False)  # as above


OFFICE = _calendar()
# 2024-2026: the years the holidays package knows China's make-up days for.
instants = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2026, 12, 31),
    timezones=st.sampled_from([UTC, SHANGHAI, ZoneInfo("America/New_York")]),
)
# Up to five days: more than the longest target (72 h) plus a long pause.
minutes = st.integers(0, 5 * 24 * 60)
# Whole seconds, up to a month.
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)).map(
    lambda d: timedelta(seconds=int(d.total_seconds()))
)


# Open all day every day in London: the spring-forward gap (01:00-02:00 on 30 March 2025)
# falls inside working hours.
LONDON_ALL_DAY = _calendar(
    name="London all day",
    timezone="Europe/London",
    workday_start=time(0),
    workday_end=time(23, 59),
    working_weekdays=list(range(7)),
    holiday_country="",
)


@PROPERTY_SETTINGS
@given(calendar=st.one_of(st.just(OFFICE), calendars()), start=instants, amount=minutes)
# Regression: windows were zone-local, so the DST gap counted as an hour worked (239
# business minutes "took" 180 real ones).
@example(calendar=LONDON_ALL_DAY, start=datetime(2025, 3, 29, 23, tzinfo=UTC), amount=239)
@example(calendar=LONDON_ALL_DAY, start=datetime(2025, 10, 26, tzinfo=UTC), amount=180)
def test_adding_business_time_then_measuring_it_gives_it_back(calendar, start, amount):
    end = add_business_minutes(start, amount, calendar)
    assert business_minutes_between(start, end, calendar) == pytest.approx(amount, abs=1e-6)
    # Working time never runs faster than real time.
    assert amount <= (end - start).total_seconds() / 60 + 1e-6


@PROPERTY_SETTINGS
@given(calendar=calendars(), start=instants, amount=st.integers(1, 5 * 24 * 60))
def test_a_deadline_falls_in_working_time(calendar, start, amount):
    end = add_business_minutes(start, amount, calendar).astimezone(ZoneInfo(calendar.timezone))
    assert is_working_day(end.date(), calendar)
    assert calendar.workday_start < end.time() <= calendar.workday_end


@PROPERTY_SETTINGS
@given(
    calendar=st.one_of(st.none(), st.just(OFFICE), calendars()),
    start=instants,
    later_by=durations,
    amount=minutes,
    more=minutes,
)
def test_deadlines_are_monotonic(calendar, start, later_by, amount, more):
    assert add_business_minutes(start, amount, calendar) <= add_business_minutes(
        start + later_by, amount, calendar
    )
    assert add_business_minutes(start, amount, calendar) <= add_business_minutes(
        start, amount + more, calendar
    )


@PROPERTY_SETTINGS
@given(
    calendar=st.one_of(st.none(), st.just(OFFICE), calendars()),
    start=instants,
    first=durations,
    second=durations,
)
# Regression: counting stopped with a ValueError after MAX_DAYS even though the end was
# known (a ticket waiting for its customer that long could not be resumed).
@example(
    calendar=OFFICE,
    start=datetime(2024, 1, 1, tzinfo=UTC),
    first=timedelta(days=1200),
    second=timedelta(0),
)
def test_business_time_between_is_additive(calendar, start, first, second):
    middle, end = start + first, start + first + second
    whole = business_minutes_between(start, end, calendar)
    parts = business_minutes_between(start, middle, calendar) + business_minutes_between(
        middle, end, calendar
    )
    assert whole == pytest.approx(parts, abs=1e-6)
    assert 0 <= whole <= (end - start).total_seconds() / 60 + 1e-6
    assert business_minutes_between(end, start, calendar) == 0


@PROPERTY_SETTINGS
@given(
    calendar=st.sampled_from([None, _calendar(is_24x7=True, holiday_country="CN")]),
    start=instants,
    amount=st.floats(0, 60 * 24 * 365, allow_nan=False),
    span=durations,
)
def test_24x7_calendars_are_wall_clock_arithmetic(calendar, start, amount, span):
    assert add_business_minutes(start, amount, calendar) == start + timedelta(minutes=amount)
    assert business_minutes_between(start, start + span, calendar) == span.total_seconds() / 60


# China's 2025 schedule as the State Council published it (国办发明电〔2024〕12号):
# public holidays, and the weekend days worked in exchange (调休).
CHINA_2025_HOLIDAYS = {
    date(2025, 1, 1),
    *(date(2025, 1, 28) + timedelta(days=n) for n in range(8)),  # Spring Festival
    *(date(2025, 4, 4) + timedelta(days=n) for n in range(3)),  # Qingming
    *(date(2025, 5, 1) + timedelta(days=n) for n in range(5)),  # Labour Day
    *(date(2025, 5, 31) + timedelta(days=n) for n in range(3)),  # Dragon Boat
    *(date(2025, 10, 1) + timedelta(days=n) for n in range(8)),  # National Day, Mid-Autumn
}
CHINA_2025_MAKEUP_DAYS = {
    date(2025, 1, 26),
    date(2025, 2, 8),
    date(2025, 4, 27),
    date(2025, 9, 28),
    date(2025, 10, 11),
}


@PROPERTY_SETTINGS
@given(day=st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 12, 31)))
@example(day=date(2025, 10, 1))
@example(day=date(2025, 10, 11))
@example(day=date(2025, 9, 28))
def test_china_holidays_and_makeup_days_are_respected(day):
    expected = day in CHINA_2025_MAKEUP_DAYS or (
        day.weekday() < 5 and day not in CHINA_2025_HOLIDAYS
    )
    assert is_working_day(day, OFFICE) == expected
    morning = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    counted = business_minutes_between(morning, morning + timedelta(days=1), OFFICE)
    assert counted == (9 * 60 if expected else 0)


@pytest.fixture
def policy(db):
    from sla.models import SLAPolicyVersion
    from sla.services import current_policy

    # Prefetched once: the examples then run without queries.
    return SLAPolicyVersion.objects.prefetch_related("targets").get(pk=current_policy().pk)


priorities = st.sampled_from(["critical", "high", "medium", "low"])


@PROPERTY_SETTINGS
@given(
    calendar=st.one_of(st.none(), st.just(OFFICE), calendars()),
    priority=priorities,
    opened_at=instants,
    later_by=durations,
    paused=st.floats(0, 5 * 24 * 60, allow_nan=False),
)
def test_deadlines_for_a_ticket(policy, calendar, priority, opened_at, later_by, paused):
    plain = deadlines_for(policy=policy, priority=priority, opened_at=opened_at, calendar=calendar)
    held = deadlines_for(
        policy=policy,
        priority=priority,
        opened_at=opened_at,
        calendar=calendar,
        paused_minutes=paused,
    )
    later = deadlines_for(
        policy=policy, priority=priority, opened_at=opened_at + later_by, calendar=calendar
    )
    # Pauses never shorten the resolution deadline, and the first response is owed anyway.
    assert held.resolution_due_at >= plain.resolution_due_at
    assert held.resolution_at_risk_at >= plain.resolution_at_risk_at
    assert held.first_response_due_at == plain.first_response_due_at
    # Opened later: due no earlier.
    assert later.first_response_due_at >= plain.first_response_due_at
    assert later.resolution_due_at >= plain.resolution_due_at
    for deadlines in (plain, held, later):
        assert deadlines.first_response_at_risk_at <= deadlines.first_response_due_at
        assert deadlines.resolution_at_risk_at <= deadlines.resolution_due_at
        assert deadlines.first_response_due_at <= deadlines.resolution_due_at


@PROPERTY_SETTINGS
@given(
    calendar=st.one_of(st.none(), st.just(OFFICE), calendars()),
    priority=priorities,
    opened_at=instants,
    pause_after=durations,
    pause_for=durations,
)
def test_a_pause_keeps_the_working_time_left(
    policy, calendar, priority, opened_at, pause_after, pause_for
):
    """What tickets.services does on resume: the paused working minutes move the
    resolution deadline so that the working time left is what it was when paused."""
    before = deadlines_for(policy=policy, priority=priority, opened_at=opened_at, calendar=calendar)
    paused_at = opened_at + pause_after
    resumed_at = paused_at + pause_for
    if paused_at > before.resolution_due_at:
        return  # already breached when paused: nothing left to keep
    paused = business_minutes_between(paused_at, resumed_at, calendar)
    after = deadlines_for(
        policy=policy,
        priority=priority,
        opened_at=opened_at,
        calendar=calendar,
        paused_minutes=paused,
    )
    left_when_paused = business_minutes_between(paused_at, before.resolution_due_at, calendar)
    left_when_resumed = business_minutes_between(resumed_at, after.resolution_due_at, calendar)
    assert left_when_resumed == pytest.approx(left_when_paused, abs=1e-6)


@PROPERTY_SETTINGS
@given(
    started_at=instants,
    target=durations,
    elapsed=st.timedeltas(min_value=timedelta(days=-1), max_value=timedelta(days=60)),
    stopped_after=st.none() | durations,
    paused=st.booleans(),
)
def test_clock_state(started_at, target, elapsed, stopped_after, paused):
    from sla.services import ClockState, clock_state

    due_at, now = started_at + target, started_at + elapsed
    stopped_at = None if stopped_after is None else started_at + stopped_after
    state, left = clock_state(
        started_at=started_at, due_at=due_at, now=now, stopped_at=stopped_at, paused=paused
    )
    if stopped_at is not None:
        assert state == (ClockState.MET if stopped_at <= due_at else ClockState.BREACHED)
        assert left == due_at - stopped_at
        return
    assert left == due_at - now
    if paused:
        assert state == ClockState.PAUSED
    elif now > due_at:
        assert state == ClockState.BREACHED
    else:
        assert state in (ClockState.ON_TRACK, ClockState.AT_RISK)


# --- b. inbound email ------------------------------------------------------------------

EMAIL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
REAL_EMAILS = [path.read_bytes() for path in sorted(EMAIL_FIXTURES.glob("*.eml"))]
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-inbound"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"

# Byte strings that MIME parsers trip over, spliced into real emails.
TROUBLE = [
    b"\x00",
    b"\r\n\r\n",
    b"\r\n ",
    b"\n\t",
    b"=?",
    b"?=",
    b"=?utf-8?B?5L2g5aW9?=",
    b"=?gb2312?B?xOO6ww==?=",
    b"=?unicode_escape?Q?\\ud800\\x00?=",
    b"=?idna?Q?a..b?=",
    b"=?utf-16?B?2AA=?=",
    b"; charset=idna",
    b"; charset=unicode_escape",
    b"; charset=utf-16",
    b"; charset=punycode",
    b"; boundary=",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"filename*=utf-8''%E4%BD%A0%00.txt",
    b"\xff\xfe",
    b"\xed\xa0\x80",
    b"=\r\n",
    b"=00",
    b"--",
    b"<>",
    b"\\",
]
CHARSETS = [
    "utf-8",
    "gb2312",
    "gbk",
    "gb18030",
    "big5",
    "iso-2022-jp",
    "utf-7",
    "utf-16",
    "utf-32",
    "latin-1",
    "hz-gb-2312",
    "unicode_escape",
    "raw_unicode_escape",
    "idna",
    "punycode",
    "rot13",
    "base64",
    "x-unknown",
    "",
]
SENDERS = [
    "Alice <alice@acme.example>",  # a contact of Acme, requester of the open ticket
    "alice@acme.example",
    "new.person@acme.example",  # Acme's domain: becomes a contact
    "Bob <bob@globex.example>",  # a contact of another customer
    "stranger@elsewhere.example",  # unknown: triage ticket
    "MAILER-DAEMON@mx.example",  # a bounce
    "",
    "not an address",
    "=?utf-8?B?5byg5LiJ?= <zhang@acme.example>",
]


@st.composite
def mutated_real_emails(draw):
    """A real-world email with a few splices, deletions and overwrites."""
    raw = bytearray(draw(st.sampled_from(REAL_EMAILS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(raw)))
        chunk = draw(st.sampled_from(TROUBLE) | st.binary(min_size=1, max_size=6))
        edit = draw(st.sampled_from(["insert", "delete", "overwrite"]))
        if edit == "insert":
            raw[at:at] = chunk
        elif edit == "delete":
            del raw[at : at + len(chunk)]
        else:
            raw[at : at + len(chunk)] = chunk
    return bytes(raw)


def _encode(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset or "utf-8")
    except (LookupError, UnicodeError, TypeError):
        return text.encode("utf-8", errors="surrogatepass")


@st.composite
def header_values(draw):
    text = draw(st.text(max_size=40))
    form = draw(st.sampled_from(["plain", "encoded word", "raw bytes"]))
    if form == "plain":
        return _encode(text, "utf-8").replace(b"\n", b" ").replace(b"\r", b" ")
    if form == "raw bytes":
        return draw(st.binary(max_size=40)).replace(b"\n", b" ").replace(b"\r", b" ")
    charset = draw(st.sampled_from(CHARSETS))
    data = _encode(text, charset) if draw(st.booleans()) else draw(st.binary(max_size=30))
    if draw(st.booleans()):
        return b"=?" + charset.encode() + b"?B?" + base64.b64encode(data) + b"?="
    quoted = b"".join(b"=%02X" % byte for byte in data)
    return b"=?" + charset.encode() + b"?Q?" + quoted + b"?="


@st.composite
def generated_emails(draw):
    """An email put together from arbitrary headers and parts."""
    subject = draw(header_values())
    if draw(st.booleans()):
        subject = b"Re: [{NUMBER}] " + subject  # the test puts the open ticket's number
    headers = [
        (b"From", _encode(draw(st.sampled_from(SENDERS)), "utf-8")),
        (b"Subject", subject),
        # The test makes it unique; repeated ids are tested with the fixtures.
        (b"Message-ID", b"<{N}@mail.example>"),
    ]
    if draw(st.booleans()):
        headers.append((b"In-Reply-To", b"<ticket-{PK}@spt-portal.local>"))
    names = st.sampled_from(
        [
            b"From",
            b"Subject",
            b"In-Reply-To",
            b"References",
            b"Auto-Submitted",
            b"Precedence",
            b"X-Autoreply",
            b"X-Auto-Response-Suppress",
            b"Return-Path",
            b"Content-Type",
            b"Content-Disposition",
            b"To",
            b"Cc",
        ]
    ) | st.from_regex(rb"\A[!-9;-~]{1,20}\Z")
    headers += draw(st.lists(st.tuples(names, header_values()), max_size=6))
    boundary = b"b0undary"
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        charset = draw(st.sampled_from(CHARSETS)).encode()
        content_type = draw(
            st.sampled_from(
                [b"text/plain", b"text/html", b"application/pdf", b"message/rfc822", b"image/png"]
            )
        )
        part = [b"Content-Type: " + content_type + b"; charset=" + charset]
        encoding = draw(st.sampled_from([b"base64", b"quoted-printable", b"8bit", b"x-bogus"]))
        part.append(b"Content-Transfer-Encoding: " + encoding)
        if draw(st.booleans()):
            name = draw(header_values())
            part.append(b'Content-Disposition: attachment; filename="' + name + b'"')
        body = draw(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
        if encoding == b"base64" and draw(st.booleans()):
            body = base64.encodebytes(body)
        parts.append(b"\r\n".join(part) + b"\r\n\r\n" + body)
    if parts:
        headers.append((b"Content-Type", b'multipart/mixed; boundary="' + boundary + b'"'))
        body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
        body += b"--" + boundary + b"--\r\n"
    else:
        body = draw(st.binary(max_size=300))
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return head + b"\r\n" + body


raw_emails = st.one_of(mutated_real_emails(), generated_emails(), st.binary(max_size=500))


def storable(text: str) -> bool:
    """Text every database keeps: no NUL (PostgreSQL refuses it), valid UTF-8 (no lone
    surrogates, which neither SQLite nor PostgreSQL can encode)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def with_real_emails(test):
    """Every real-world fixture is an explicit example."""
    for raw in REAL_EMAILS:
        test = example(raw=raw)(test)
    return test


@PROPERTY_SETTINGS
@given(raw=raw_emails)
@with_real_emails
# Regressions: punycode's codec raised UnicodeDecodeError through the fallbacks; UTF-7 and
# unicode_escape produced lone surrogates and NUL that no database stores.
@example(raw=b"Content-Type: text/plain; charset=punycode\r\n\r\n\xd6\xe1")
@example(raw=b"Subject: =?utf-7?Q?+2AA-?=\r\n\r\nx\x00y")
@example(raw=b"Content-Type: text/plain; charset=unicode_escape\r\n\r\n\\ud800\\x00")
def test_any_bytes_parse_into_storable_text(raw):
    from tickets.inbound.loops import classify
    from tickets.inbound.mime import parse
    from tickets.inbound.quotes import strip_quotes

    parsed = parse(raw)
    texts = [
        parsed.message_id,
        parsed.subject,
        parsed.from_name,
        parsed.from_address,
        parsed.text,
        parsed.html,
        *parsed.in_reply_to,
        *parsed.references,
        *parsed.to,
        *parsed.cc,
        *(attachment.filename for attachment in parsed.attachments),
        *(attachment.content_type for attachment in parsed.attachments),
    ]
    assert all(isinstance(text, str) and storable(text) for text in texts)
    assert all(isinstance(attachment.data, bytes) for attachment in parsed.attachments)
    verdict = classify(parsed)
    assert verdict.kind in ("", "auto_reply", "bounce")
    assert all(storable(address) for address in verdict.bounced_recipients)
    stripped = strip_quotes(parsed.text)
    assert isinstance(stripped, str) and storable(stripped)
    if parsed.text.strip():
        assert stripped  # stripping never leaves nothing of something


@PROPERTY_SETTINGS
@given(text=st.text(max_size=400))
def test_quote_stripping_keeps_what_was_written(text):
    from tickets.inbound.quotes import strip_quotes

    stripped = strip_quotes(text)
    assert stripped == stripped.strip()
    # Only ever cuts: what is kept is a part of the original (newlines normalised), or
    # the whole text when cutting would leave nothing.
    assert stripped in text.replace("\r\n", "\n") or stripped == text.strip()


@pytest.fixture
def signing_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def inbox(db, settings, signing_key, monkeypatch):
    """A customer with a domain, a contact and an open ticket; the SES webhook configured
    with a cached signing certificate (nothing is fetched from the network)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from tests.factories import CustomerFactory, CustomerUserFactory, EmailDomainFactory
    from tickets import services
    from tickets.models import SNSCertificate

    def no_network(*args, **kwargs):
        raise OSError("no network in tests")

    monkeypatch.setattr("tickets.inbound.sns.urllib.request.urlopen", no_network)
    monkeypatch.setattr("tickets.inbound.views.urllib.request.urlopen", no_network)
    settings.SES_SNS_TOPIC_ARNS = [TOPIC]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signing_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(signing_key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    SNSCertificate.objects.create(url=CERT_URL, pem=pem)
    acme = CustomerFactory(name="Acme", short_code="ACME")
    EmailDomainFactory(customer=acme, domain="acme.example")
    alice = CustomerUserFactory(customer=acme, email="alice@acme.example")
    globex = CustomerFactory(name="Globex", short_code="GLOBEX")
    CustomerUserFactory(customer=globex, email="bob@globex.example")
    ticket = services.ticket_create(customer=acme, requester=alice, title="VPN down", actor=alice)
    return {"ids": itertools.count(1), "ticket": ticket}


def _aimed(raw: bytes, ticket, number: int) -> bytes:
    """Fill in the generated emails' placeholders."""
    for placeholder, value in (
        (b"{PK}", ticket.pk),
        (b"{NUMBER}", ticket.number),
        (b"{N}", number),
    ):
        raw = raw.replace(placeholder, str(value).encode())
    return raw


def _signed(message: dict, key) -> dict:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from tickets.inbound.sns import canonical_string

    message = {"SignatureVersion": "2", "SigningCertURL": CERT_URL, **message}
    signature = key.sign(canonical_string(message), padding.PKCS1v15(), hashes.SHA256())
    return {**message, "Signature": base64.b64encode(signature).decode()}


def _envelope(notification: dict, number: int) -> dict:
    from django.utils import timezone

    return {
        "Type": "Notification",
        "MessageId": f"sns-{number}",
        "TopicArn": TOPIC,
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(notification),
        "Timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
    }


def _received(raw: bytes, number: int) -> dict:
    receipt = {f"{name}Verdict": {"status": "PASS"} for name in ("spam", "virus", "dmarc")}
    receipt["action"] = {"type": "SNS", "topicArn": TOPIC, "encoding": "BASE64"}
    return {
        "notificationType": "Received",
        "mail": {"messageId": f"ses-{number:06d}", "source": "x@example.com"},
        "receipt": receipt,
        "content": base64.b64encode(raw).decode(),
    }


def _post(client, message) -> object:
    return client.post("/hooks/ses/", json.dumps(message), content_type="text/plain")


@DB_SETTINGS
@given(raw=raw_emails)
@example(raw=REAL_EMAILS[0])
# Regressions, each a 500 (and SNS delivering the message again and again): a charset
# whose codec raises UnicodeError, a header of raw 8-bit bytes (a Header, not a str),
# and a thread root id too long for int().
@example(raw=b"From: a@acme.example\r\nContent-Type: text/plain; charset=idna\r\n\r\n\xff")
@example(raw=b"From: a@acme.example\r\nAuto-Submitted: \xffauto\r\n\r\nhi")
@example(raw=b"From: a@acme.example\r\nContent-Disposition: \xff\r\n\r\nhi")
@example(
    raw=b"From: a@acme.example\r\nReferences: <ticket-"
    + b"1" * 5000
    + b"@spt-portal.local>\r\n\r\nhi"
)
def test_every_email_ends_in_a_ticket_a_comment_or_a_logged_rejection(
    inbox, client, signing_key, raw
):
    from tickets.models import Comment, InboundEmail, Ticket

    number = next(inbox["ids"])
    raw = _aimed(raw, inbox["ticket"], number)
    tickets, comments = Ticket.objects.count(), Comment.objects.count()
    response = _post(client, _signed(_envelope(_received(raw, number), number), signing_key))
    if not raw:  # SES never sends an empty message; refused and logged, nothing recorded
        assert response.status_code == 400
        return
    assert response.status_code == 200, response.content

    record = InboundEmail.objects.get(ses_message_id=f"ses-{number:06d}")
    event(f"outcome: {record.outcome}")  # pytest --hypothesis-show-statistics
    assert response.json()["status"] == record.outcome
    outcome = InboundEmail.Outcome
    if record.outcome == outcome.TICKET:
        assert record.ticket is not None and Ticket.objects.count() == tickets + 1
        assert record.ticket.description is not None
    elif record.outcome == outcome.COMMENT:
        assert record.comment is not None and record.comment.ticket_id == record.ticket_id
        assert Ticket.objects.count() == tickets and Comment.objects.count() > comments
    else:
        assert record.outcome in (
            outcome.AUTO_REPLY,
            outcome.BOUNCE,
            outcome.QUARANTINED,
            outcome.REJECTED,
            outcome.DUPLICATE,
        )
        assert record.reason, "a rejection says why"
        assert record.ticket_id is None and Ticket.objects.count() == tickets
    # SNS delivers at least once: the same notification again changes nothing.
    again = _post(client, _signed(_envelope(_received(raw, number), number), signing_key))
    assert again.status_code == 200 and again.json()["status"] == record.outcome
    assert Ticket.objects.count() == tickets + (record.outcome == outcome.TICKET)


@DB_SETTINGS
@given(
    sender=st.sampled_from(
        ["bob@globex.example", "mallory@evil.example", "MAILER-DAEMON@mx.example", ""]
    ),
    in_reply_to=st.sampled_from(["", "<ticket-{PK}@spt-portal.local>", "<x@mail.example>"]),
    references=st.lists(
        st.sampled_from(["<ticket-{PK}@spt-portal.local>", "<other@mail.example>"]), max_size=2
    ),
    subject=st.sampled_from(["Re: [{NUMBER}] VPN down", "[{NUMBER}]", "hello"]),
    body=st.text(max_size=50),
)
# Regression: our thread root id (the ticket's pk) let anyone comment on any ticket.
@example(
    sender="mallory@evil.example",
    in_reply_to="<ticket-{PK}@spt-portal.local>",
    references=[],
    subject="hello",
    body="pay to this account",
)
def test_only_the_tickets_customer_writes_into_it_by_email(
    inbox, client, signing_key, sender, in_reply_to, references, subject, body
):
    ticket = inbox["ticket"]
    comments = ticket.comments.count()
    number = next(inbox["ids"])
    headers = [
        f"From: {sender}",
        f"Subject: {subject}",
        f"Message-ID: <forged-{number}@mail.example>",
        f"In-Reply-To: {in_reply_to}",
        f"References: {' '.join(references)}",
        "Content-Type: text/plain; charset=utf-8",
    ]
    raw = _aimed(("\r\n".join(headers) + "\r\n\r\n" + body).encode(), ticket, number)
    response = _post(client, _signed(_envelope(_received(raw, number), number), signing_key))
    assert response.status_code == 200, response.content
    assert ticket.comments.count() == comments


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=8,
)
SNS_KEYS = [
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
    "SubscribeURL",
    "Token",
]


@DB_SETTINGS
@given(
    body=st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.dictionaries(
            st.sampled_from(SNS_KEYS),
            json_values | st.sampled_from([TOPIC, CERT_URL, "2", "1", "Notification"]),
        ).map(lambda value: json.dumps(value).encode()),
    )
)
@example(body=b'{"SignatureVersion": []}')
@example(body=json.dumps({"SignatureVersion": "2", "TopicArn": TOPIC, "Signature": 1}).encode())
def test_the_ses_webhook_refuses_unsigned_bodies(inbox, client, body):
    from tickets.models import InboundEmail

    response = client.post("/hooks/ses/", body, content_type="text/plain")
    assert response.status_code in (400, 403, 413), response.content
    assert response.json()["detail"]
    assert not InboundEmail.objects.exists()


@DB_SETTINGS
@given(
    notification=json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "notificationType": st.just("Received") | json_values,
            "mail": st.fixed_dictionaries({}, optional={"messageId": json_values}) | json_values,
            "receipt": json_values,
            "content": st.just(base64.b64encode(REAL_EMAILS[0]).decode()) | json_values,
        },
    )
)
# Regressions: AttributeError on a notification (or a part of one) that is not an object.
@example(notification=None)
@example(notification={"notificationType": "Received", "mail": [], "receipt": 1})
def test_a_signed_but_malformed_notification_is_a_400(inbox, client, signing_key, notification):
    number = next(inbox["ids"])
    message = _envelope({}, number)
    message["Message"] = json.dumps(notification)
    response = _post(client, _signed(message, signing_key))
    assert response.status_code in (200, 400), response.content


# --- c. the rule engine ----------------------------------------------------------------

TARGETS = ["ticket", "incident"]
CONDITION_NAMES = [
    "priority",
    "level",
    "severity",
    "status",
    "category",
    "customer",
    "source",
    "service",
    "tags",
    "time",
]
durations_text = st.one_of(
    st.from_regex(r"\A(\d{1,12}w)?(\d{1,12}d)?(\d{1,12}h)?(\d{1,12}m)?(\d{1,12}s)?\Z"),
    st.text(max_size=12),
    json_values,
)
any_conditions = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(CONDITION_NAMES) | st.text(max_size=8),
        json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "field": st.sampled_from(["created_at", "updated_at", "nope"]) | json_values,
                "operator": st.sampled_from([">", ">=", "<", "<="]) | json_values,
                "duration": durations_text,
            },
        ),
        max_size=4,
    ),
)
any_actions = st.one_of(
    json_values,
    st.lists(
        json_values
        | st.fixed_dictionaries(
            {
                "type": st.sampled_from(
                    ["escalate", "notify", "assign", "change_status", "collect_metric"]
                )
            },
            optional={
                "level": json_values,
                "notify_users": json_values,
                "channels": st.lists(st.sampled_from(["email", "sms", "slack", "x"])) | json_values,
                "recipients": json_values,
                "assignee": st.just("on_call") | json_values,
                "assignee_id": json_values,
                "status": st.sampled_from(["resolved", "in_progress"]) | json_values,
                "metric_name": json_values,
                "metric_type": json_values,
                "metric_value": json_values,
                "tags": json_values,
            },
        ),
        max_size=3,
    ),
)


@PROPERTY_SETTINGS
@given(text=durations_text)
@example(text="99999999999w")  # regression: OverflowError, not the documented RuleError
@example(text="1000000d")  # regression: valid, but "now - duration" overflowed in matching
@example(text="1" * 5000 + "h")  # regression: int() refuses that many digits (ValueError)
def test_a_duration_parses_or_is_refused_with_rule_error(text):
    from incidents.rules import RuleError, parse_duration

    try:
        duration = parse_duration(text)
    except RuleError as exc:
        assert str(exc)
        return
    assert timedelta(0) <= duration
    datetime.now(UTC) - duration  # usable as an age cutoff


@PROPERTY_SETTINGS
@given(target=st.sampled_from(TARGETS), conditions=any_conditions, actions=any_actions)
# Regression: an unhashable operator raised TypeError.
@example(target="ticket", conditions={"time": {"operator": []}}, actions=[])
@example(target="incident", conditions={"service": "a\x00"}, actions=[{"type": "x"}])
def test_any_json_is_validated_into_messages(target, conditions, actions):
    from incidents.models import Rule
    from incidents.rules import validate_actions, validate_conditions, validate_rule

    condition_errors = validate_conditions(target, conditions)
    action_errors = validate_actions(target, actions)
    assert all(isinstance(error, str) and error for error in condition_errors + action_errors)
    rule = Rule(name="r", target=target, conditions=conditions, actions=actions)
    try:
        validate_rule(rule)
    except ValidationError as exc:
        assert condition_errors or action_errors
        assert exc.message_dict
    else:
        assert not condition_errors and not action_errors


def _allowed(target: str, name: str) -> tuple | None:
    from incidents.rules import FIELDS

    return FIELDS[target][name].values


@st.composite
def valid_conditions(draw, target: str):
    from incidents.rules import FIELDS, OPERATORS, time_fields

    conditions = {}
    free_text = ["ACME", "GLOBEX", "ec2", "billing", "urgent", "", "Ünïcode 工单", 7]
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS[target])), max_size=2)):
        allowed = _allowed(target, name)
        value = st.sampled_from(list(allowed)) if allowed else st.sampled_from(free_text)
        conditions[name] = draw(value | st.lists(value, min_size=1, max_size=4))
    if draw(st.booleans()):
        amount = draw(st.integers(1, 500))
        conditions["time"] = {
            "field": draw(st.sampled_from(time_fields(target))),
            "operator": draw(st.sampled_from(sorted(OPERATORS))),
            "duration": f"{amount}{draw(st.sampled_from('wdhms'))}",
        }
    return conditions


@pytest.fixture
def rule_world(db, engineer):
    """Tickets and incidents with different values for the conditions to tell apart."""
    from incidents import services as incident_services
    from spt_portal.models import Skill
    from tests.factories import CustomerFactory, CustomerUserFactory
    from tickets import services as ticket_services
    from tickets.models import Ticket

    acme = CustomerFactory(name="Acme", short_code="ACME")
    globex = CustomerFactory(name="Globex", short_code="GLOBEX")
    ec2 = Skill.objects.get_or_create(slug="ec2", defaults={"name": "EC2"})[0]
    for customer, priority, category, tags in (
        (acme, "critical", ec2, ["vip", "ec2"]),
        (globex, "low", None, []),
        (None, "medium", None, ["urgent"]),
    ):
        requester = CustomerUserFactory(customer=customer) if customer else None
        ticket = ticket_services.ticket_create(
            customer=customer,
            requester=requester,
            title="t",
            priority=priority,
            category=category,
            actor=requester or engineer,
        )
        Ticket.objects.filter(pk=ticket.pk).update(tags=tags)
    for level, service, customers in (("P1", "billing", [acme]), ("P3", "", [acme, globex])):
        incident = incident_services.incident_create(
            title="i", level=level, service=service, actor=engineer
        )
        incident.affected_customers.set(customers)


def _holds(rule, obj, now) -> bool:
    """The conditions checked in Python, one by one: the oracle for matching()."""
    from incidents import rules
    from incidents.models import PRIORITY_TO_LEVEL

    watched = rules._watched_values(rule, obj)
    for name, value in rule.conditions.items():
        if name == "time":
            stamp = getattr(obj, value["field"])
            if stamp is None:
                return False
            cutoff = now - rules.parse_duration(value["duration"])
            holds = {
                ">": stamp < cutoff,
                ">=": stamp <= cutoff,
                "<": stamp > cutoff,
                "<=": stamp >= cutoff,
            }[value["operator"]]
        else:
            wanted = {str(v) for v in (value if isinstance(value, list) else [value])}
            if rule.target == "incident" and name == "priority":
                wanted = {PRIORITY_TO_LEVEL.get(v, v) for v in wanted}
            actual = watched[name] if name != "tags" else obj.tags
            if isinstance(actual, list):
                holds = bool(wanted & {str(v) for v in actual})
            else:
                holds = actual is not None and str(actual) in wanted
        if not holds:
            return False
    return True


@DB_SETTINGS
@given(data=st.data(), target=st.sampled_from(TARGETS))
def test_valid_conditions_make_a_query_that_matches_exactly(rule_world, data, target):
    from django.utils import timezone

    from incidents.models import Incident, Rule
    from incidents.rules import matching, validate_conditions
    from tickets.models import Ticket

    conditions = data.draw(valid_conditions(target))
    assert validate_conditions(target, conditions) == []
    rule = Rule(pk=1, name="r", target=target, conditions=conditions, actions=[])
    now = timezone.now()
    found = matching(rule, now=now)
    everything = (Ticket if target == "ticket" else Incident).objects.all()
    event(f"{target}s matched: {len(found)} of {len(everything)}")
    assert {obj.pk for obj in found} == {obj.pk for obj in everything if _holds(rule, obj, now)}
