"""Stored and reflected XSS in a browser: a corpus of classic payloads goes in through every
field people (or their systems) can write — the portal's forms, the REST API, inbound email,
the Alertmanager hook, AWS Health events, the engineers' workspace — and the pages that show
them are opened in headless Chromium, as the customer and as an engineer. The notices we
email are rendered in the browser as well.

Each payload would call ``alert(n)`` and set ``top.__xss`` if it ran. A page passes when no
dialog opened, no flag was set, its DOM holds none of the payloads' live markup (event
handler attributes, ``javascript:`` URLs, inline scripts, frames, ...) and plain-text fields
show the payload's text as typed. The DOM checks prove the escaping on their own, so the test
means the same with or without a Content-Security-Policy that would block execution anyway;
a canary page with one unescaped payload proves the checks themselves can fail.
"""

import base64
import json
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.utils import timezone

from aws_integrations import health
from aws_integrations.models import HealthEvent, HealthEventCustomer
from incidents import paging
from incidents import services as incidents
from incidents.alerts import integration_create
from incidents.models import Alert, EmergencyContact, Incident
from postmortems import services as postmortems
from postmortems.models import PostMortem
from spt_portal.models import Customer, NotificationLog, User
from spt_portal.tokens import api_token_create
from tests.e2e.helpers import DEMO_PASSWORD, sign_in
from tickets import services as tickets
from tickets.inbound.service import process_notification
from tickets.models import Article, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).parent / "screenshots"


def _run(n: int) -> str:
    """What a payload runs: no spaces or quotes, so it also fits unquoted attributes."""
    return f"top.__xss={n};alert({n})"


_DATA_HTML = base64.b64encode(f"<script>{_run(12)}</script>".encode()).decode()

# One line each: these go into titles, names and subjects as well as bodies.
CORPUS = [
    f"<script>{_run(1)}</script>",
    f"<img src=x onerror={_run(2)}>",
    f'<svg onload="{_run(3)}"></svg>',
    f'"><script>{_run(4)}</script>',
    f"'><img src=x onerror={_run(5)}>",
    f"[markdown link](javascript:{_run(6)})",
    f'<a href="javascript:{_run(7)}">href link</a>',
    f'<a href="JaVaScRiPt&colon;{_run(8)}">entity link</a>',
    f'<a href="&#106;avascript:{_run(9)}">encoded link</a>',
    f'<iframe srcdoc="<script>{_run(10)}</script>"></iframe>',
    f'<div style="background:url(javascript:{_run(11)});width:expression({_run(11)})">css</div>',
    f'<a href="data:text/html;base64,{_DATA_HTML}">data link</a>',
    f'<object data="data:text/html,<script>{_run(13)}</script>"></object>',
    f"<details open ontoggle={_run(14)}>toggle</details>",
    f"<input autofocus onfocus={_run(15)}>",
    f"<body onload={_run(16)}>",
    f"<svg><animate onbegin={_run(17)} attributeName=x dur=1s>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={_run(18)}>",
    f'<noscript><p title="</noscript><img src=x onerror={_run(19)}>">',
    f"<scr<script>ipt>{_run(20)}</scr</script>ipt>",
    f"</textarea><script>{_run(21)}</script>",
    f"</title><script>{_run(22)}</script>",
    f'<meta http-equiv="refresh" content="0;url=javascript:{_run(23)}">',
    f'<base href="javascript:{_run(24)}//">',
    f'<form><button formaction="javascript:{_run(25)}">go</button></form>',
    f'<embed src="javascript:{_run(26)}">',
    f'<!--<img src="--><img src=x onerror={_run(27)}//">',
    f'<x onmouseover={_run(28)} style="position:fixed;inset:0;display:block">hover</x>',
    "{{ 7|add:42 }} {% now 'Y' %} {{ request.user.password }} ${7*7} #{7*7}",
    f"{{{{constructor.constructor('{_run(30)}')()}}}}",
    "\\u003cscript\\u003etop.__xss=31;alert(31)\\u003c/script\\u003e",
    f"&lt;script&gt;{_run(32)}&lt;/script&gt;",
    f"\uff1cscript\uff1e{_run(33)}\uff1c/script\uff1e",
    f"%3Cscript%3E{_run(34)}%3C%2Fscript%3E",
    f"<IMG SRC=JaVaScRiPt:{_run(35)}>",
    f"<a href='javas&#x09;cript:{_run(36)}'>tab link</a>",
    f"![image](javascript:{_run(37)})",
    f"<javascript:{_run(38)}>",
    f"<style>@import 'javascript:{_run(39)}';</style>",
    f"<video><source onerror={_run(40)}></video>",
    f'<div hx-on::load="{_run(47)}" hx-get="/portal/" hx-trigger="load">htmx</div>',
]
# Markdown that only makes sense in a body (several lines).
MARKDOWN_EXTRA = [
    f"[reference link][evil]\n\n[evil]: javascript:{_run(41)}",
    f'<div onclick="{_run(42)}">\n\n**raw HTML block**\n\n</div>',
    f"## heading {{: onclick={_run(43)} }}",
    f"```html\n<script>{_run(44)}</script>\n```",
    f"| a | b |\n|---|---|\n| <img src=x onerror={_run(45)}> | [x](javascript:{_run(45)}) |",
    f'<a href="java&#x0A;script:{_run(46)}">newline link</a>',
]
# Sanitising may drop the rest of a Markdown text after a stray <style>, so the marker that
# must survive comes first.
SAFE_MARKER = "xss-corpus-start"
MARKDOWN_BODY = "\n\n".join([SAFE_MARKER, *CORPUS, *MARKDOWN_EXTRA])
PLAIN_BODY = "\n".join(CORPUS)  # plain-text fields: one payload a line, shown as typed
# Five payloads a title (at most 500 characters), so a few tickets carry them all.
CHUNKS = [CORPUS[i : i + 5] for i in range(0, len(CORPUS), 5)]

# What in the DOM is live markup that no escaped or sanitised text can produce.
DOM_PROBE = """() => {
  const found = [];
  const urlAttrs = ["href", "src", "action", "formaction", "data", "xlink:href", "background",
                    "poster", "srcdoc", "codebase", "dynsrc", "lowsrc"];
  const badUrl = /^(javascript|vbscript|livescript):|^data:(text\\/html|image\\/svg)/i;
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    if (["iframe", "frame", "frameset", "object", "embed", "base", "applet"].includes(tag)) {
      found.push(`<${tag}> element`);
    }
    if (tag === "meta" && (el.getAttribute("http-equiv") || "").toLowerCase() === "refresh") {
      found.push("<meta http-equiv=refresh>");
    }
    if (tag === "script" && !el.hasAttribute("src")) {
      found.push(`inline <script>: ${el.textContent.slice(0, 80)}`);
    }
    if (tag === "style" && /__xss|javascript:|expression/i.test(el.textContent)) {
      found.push(`<style>: ${el.textContent.slice(0, 80)}`);
    }
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.replace(/[\\u0000-\\u0020]/g, "");
      if (name.startsWith("on") || /^(data-)?hx-on/.test(name)) {
        found.push(`<${tag} ${name}="${attr.value.slice(0, 60)}">`);
      } else if (urlAttrs.includes(name) && badUrl.test(value)) {
        found.push(`<${tag} ${name}="${attr.value.slice(0, 60)}">`);
      } else if (name === "style" && /expression\\(|javascript:|__xss/i.test(value)) {
        found.push(`<${tag} style="${attr.value.slice(0, 60)}">`);
      } else if (/^(data-)?hx-/.test(name) && /__xss|^\\/portal\\/$/.test(value)) {
        found.push(`<${tag} ${name}="${attr.value.slice(0, 60)}">`);
      }
    }
  }
  return found;
}"""


class Probe:
    """One browser page that records every dialog and checks each page it opens."""

    def __init__(self, page, who):
        self.page, self.who = page, who
        self.dialogs: list[str] = []
        self.problems: list[str] = []
        self.checked = 0
        page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}({dialog.message!r})")
        dialog.dismiss()

    def open(self, url, **kwargs) -> str:
        self.page.goto(url)
        return self.check(url.split("//", 1)[-1].split("/", 1)[-1], **kwargs)

    def check(self, where, *, text=(), absent=(), shot=None) -> str:
        """Problems found on the current page are recorded; returns the page's text."""
        page = self.page
        page.wait_for_load_state("load")
        # Hover and focus handlers get their chance, then late ones (onerror, animations).
        page.mouse.move(5, 5)
        page.mouse.move(640, 400)
        page.keyboard.press("Tab")
        page.wait_for_timeout(50)
        label = f"[{self.who}] /{where}"
        for frame in page.frames:
            try:
                flag = frame.evaluate("() => window.__xss ?? null")
            except Exception:  # a frame that is gone or cross-origin ran none of ours
                continue
            if flag is not None:
                self.problems.append(f"{label}: payload {flag} ran (window.__xss)")
        self.problems.extend(f"{label}: live markup {f}" for f in page.evaluate(DOM_PROBE))
        self.problems.extend(f"{label}: dialog {d}" for d in self.dialogs)
        self.dialogs.clear()
        body = page.locator("body").inner_text()
        for expected in text:
            if expected not in body:
                self.problems.append(f"{label}: text not shown as typed: {expected[:70]!r}")
        for unexpected in absent:
            if unexpected in body:
                self.problems.append(f"{label}: shows {unexpected[:70]!r}")
        if shot:  # the viewport only: full-page shots of long pages cost seconds
            SCREENSHOTS.mkdir(exist_ok=True)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(SCREENSHOTS / f"xss-{shot}.png"))
        self.checked += 1
        return body


# --- writing the corpus ------------------------------------------------------------------


def _mime(sender, subject, *, text=None, html=None) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@partner.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@mail.acme.example>"
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html, subtype="html")
    return message.as_bytes()


def _receive(raw: bytes):
    """What the SES webhook does once the SNS signature is verified."""
    return process_notification(
        {
            "notificationType": "Received",
            "mail": {"messageId": uuid.uuid4().hex, "source": "customer@acme.example"},
            "receipt": {
                **{
                    f"{name}Verdict": {"status": "PASS"}
                    for name in ("spam", "virus", "spf", "dkim", "dmarc")
                },
                "action": {"type": "SNS", "encoding": "BASE64"},
            },
            "content": base64.b64encode(raw).decode(),
        }
    )


EMAIL_HTML = (
    f"<html><head><title>t</title><script>{_run(90)}</script></head>"
    f'<body onload="{_run(91)}"><p>Hello,</p><p>{CORPUS[1]}</p>'
    f'<p><a href="javascript:{_run(92)}">click</a></p>'
    f"<p>&lt;script&gt;{_run(93)}&lt;/script&gt;</p>"
    f'<iframe src="javascript:{_run(94)}"></iframe><p>{SAFE_MARKER}</p></body></html>'
)


def _write_through_email(customer):
    """A multipart mail (text + HTML), an HTML-only one and a reply, with payloads in the
    subject, the sender's display name and the bodies. Returns the two new tickets."""
    sender = formataddr((CORPUS[2], customer.email))
    first = _receive(_mime(sender, f"Email: {CORPUS[0]}", text=PLAIN_BODY, html=EMAIL_HTML))
    html_only = _receive(_mime(customer.email, f"HTML only {CORPUS[3]}", html=EMAIL_HTML))
    reply = _receive(
        _mime(
            sender,
            f"Re: [{first.ticket.number}] {CORPUS[4]}",
            text=f"{CORPUS[5]}\n{CORPUS[20]}",
        )
    )
    assert first.ticket_id and html_only.ticket_id and reply.comment_id, "mail was refused"
    return first.ticket, html_only.ticket


def _write_through_alertmanager(api, base) -> Alert:
    _integration, token = integration_create(name="xss-alertmanager", kind="alertmanager")
    labels = {
        "alertname": CORPUS[1],
        "service": CORPUS[3],
        "severity": "critical",
        "instance": CORPUS[13],
    }
    body = {
        "version": "4",
        "groupKey": f"{{}}:{{alertname={CORPUS[6]!r}}}",
        "status": "firing",
        "receiver": "spt-portal",
        "groupLabels": {"alertname": CORPUS[1]},
        "commonLabels": labels,
        "commonAnnotations": {"runbook_url": f"javascript:{_run(60)}"},
        "externalURL": f"javascript:{_run(61)}",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": CORPUS[0], "description": PLAIN_BODY},
                "startsAt": timezone.now().isoformat().replace("+00:00", "Z"),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"javascript:{_run(62)}",
                "fingerprint": "xss0000000000001",
            }
        ],
    }
    response = api.post(
        f"{base}/hooks/alertmanager/",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status == 202, response.text()
    alert = Alert.objects.get(fingerprint="xss0000000000001")
    assert alert.incident_id, "the critical alert opened no incident"
    return alert


def _write_health_event() -> Ticket:
    """An EventBridge Health event for Acme's account; returns Acme's ticket about it."""
    detail = {
        "eventArn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_XSS/xss-1",
        "service": CORPUS[1],
        "eventTypeCode": CORPUS[3],
        "eventTypeCategory": "issue",
        "startTime": "Sat, 05 Jun 2026 15:10:09 GMT",
        "eventDescription": [{"language": "en_US", "latestDescription": PLAIN_BODY}],
        "affectedEntities": [
            {"entityValue": CORPUS[2], "awsAccountId": "123456789012", "status": CORPUS[0]}
        ],
    }
    message = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS Health Event",
        "source": "aws.health",
        "account": "123456789012",
        "time": "2026-06-05T06:27:57Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    outcome = health.process_event(health.normalize_eventbridge(message))
    assert outcome.customers_notified == 1, "the Health event told no customer"
    return HealthEventCustomer.objects.get(event=outcome.event).ticket


def _write_incident_and_postmortem(engineer, acme) -> tuple[Incident, PostMortem]:
    incident = incidents.incident_create(
        title=CORPUS[0],
        description=PLAIN_BODY,
        level="P1",
        service=CORPUS[2],
        category=CORPUS[5],
        affected_customers=[acme],
        actor=engineer,
    )
    incidents.incident_update_details(
        incident=incident,
        actor=engineer,
        impact_analysis=PLAIN_BODY,
        root_cause=PLAIN_BODY,
        resolution_steps=PLAIN_BODY,
    )
    for n, chunk in enumerate(CHUNKS):
        incidents.incident_add_note(
            incident=incident, text="\n".join(chunk), actor=engineer, pinned=n % 2 == 0
        )
    paging.communication_send(
        incident=incident,
        kind="started",
        audience="external",
        subject=CORPUS[4],
        body=PLAIN_BODY,
        actor=engineer,
    )
    incidents.incident_change_status(incident=incident, status="in_progress", actor=engineer)
    incidents.incident_change_status(incident=incident, status="recovered", actor=engineer)
    postmortem, _created = postmortems.postmortem_create(incident=incident, actor=engineer)
    sections = ("summary", "timeline", "root_cause", "impact", "went_well", "to_improve")
    postmortems.postmortem_update(
        postmortem=postmortem,
        actor=engineer,
        title=CORPUS[1],
        business_loss=CORPUS[7],
        lessons=MARKDOWN_BODY,
        customer_summary=PLAIN_BODY,
        **dict.fromkeys(sections, MARKDOWN_BODY),
    )
    for chunk in CHUNKS[:3]:
        postmortems.action_item_create(
            postmortem=postmortem,
            title=" ".join(chunk)[:500],
            owner=engineer,
            due_date=timezone.localdate() - timedelta(days=1),
            priority="P1",
            actor=engineer,
        )
    postmortems.comment_add(postmortem=postmortem, body=PLAIN_BODY, actor=engineer)
    return Incident.objects.get(pk=incident.pk), postmortem


# --- the test ----------------------------------------------------------------------------


def test_the_checks_catch_an_unescaped_payload(browser):
    """The canary: a page that does render payloads must fail every check."""
    context = browser.new_context()
    try:
        probe = Probe(context.new_page(), "canary")
        probe.page.set_content(f"<p>{CORPUS[1]}{CORPUS[6]}{CORPUS[0]}{CORPUS[-1]}</p>")
        probe.check("canary", text=[CORPUS[1]])
    finally:
        context.close()
    problems = "\n".join(probe.problems)
    assert "payload" in problems and "dialog alert('" in problems
    assert "<img onerror=" in problems and '<a href="javascript:' in problems
    assert "inline <script>" in problems and "text not shown as typed" in problems
    assert '<div hx-on::load="' in problems


def test_xss_corpus_is_inert_on_every_page(live_server, browser):
    started = timezone.now()
    call_command("seed_demo")
    base = live_server.url
    customer = User.objects.get(email="customer@acme.example")
    engineer = User.objects.get(email="engineer@partner.example")
    manager = User.objects.get(email="manager@partner.example")
    acme = customer.customer
    # People's and organisations' names are user input too (and shown to the other side).
    User.objects.filter(pk=customer.pk).update(full_name=CORPUS[4], preferred_language="en")
    User.objects.filter(pk=engineer.pk).update(full_name=CORPUS[5], preferred_language="en")
    Customer.objects.filter(pk=acme.pk).update(name=CORPUS[0])
    User.objects.create_user(email="contact@acme.example", full_name=CORPUS[1], customer=acme)
    EmergencyContact.objects.create(role="developer", name=CORPUS[3], email="dev@partner.example")

    contexts = []

    def probe(who, email=None) -> Probe:
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        if email:
            sign_in(page, base, email)
        return Probe(page, who)

    try:
        cust = probe("customer", "customer@acme.example")
        eng = probe("engineer", "engineer@partner.example")
        api_context = browser.new_context()
        contexts.append(api_context)
        api = api_context.request

        # The customer files a ticket in the portal form and replies in its conversation.
        page = cust.page
        page.goto(f"{base}/portal/tickets/new/")
        page.fill("input[name=title]", CORPUS[3])
        page.fill("textarea[name=description]", PLAIN_BODY)
        page.check("input[name=priority][value=high]")
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(f"{base}/portal/tickets/TKT-*/")
        form_ticket = Ticket.objects.get(title=CORPUS[3])
        page.fill("textarea[name=body]", f"customer: {PLAIN_BODY}")
        page.locator("form button[type=submit]").last.click()
        page.wait_for_load_state()
        assert form_ticket.comments.filter(author=customer).count() == 1

        # ... and through the REST API with a bearer token.
        _row, token = api_token_create(user=customer)
        auth = {"Authorization": f"Bearer {token}"}
        response = api.post(
            f"{base}/api/v1/tickets",
            data={"title": CORPUS[6], "description": PLAIN_BODY, "priority": "low"},
            headers=auth,
        )
        assert response.status == 201, response.text()
        api_number = response.json()["number"]
        response = api.post(
            f"{base}/api/v1/tickets/{api_number}/comments",
            data={"body": MARKDOWN_BODY},
            headers=auth,
        )
        assert response.status == 201, response.text()

        # The engineer answers in the workspace: a public reply and an internal note.
        page = eng.page
        page.goto(f"{base}/admin/tickets/ticket/{form_ticket.pk}/change/")
        for visibility in ("public", "internal"):
            page.fill("#reply-form textarea[name=body]", f"{visibility}: {PLAIN_BODY}")
            page.check(f"#reply-form input[name=visibility][value={visibility}]")
            page.locator("#reply-form input[type=submit]").click()
            page.wait_for_load_state()
        assert form_ticket.comments.filter(author=engineer).count() == 2

        # Every payload in a ticket title, and in comments of each kind (API: see above).
        for chunk in CHUNKS:
            tickets.ticket_create(
                customer=acme,
                requester=customer,
                title=" ".join(chunk),
                description="\n".join(chunk),
                actor=customer,
            )
        for n, chunk in enumerate(CHUNKS):
            kind = ("customer", "public", "internal")[n % 3]
            tickets.comment_add(
                ticket=form_ticket,
                author=customer if kind == "customer" else engineer,
                body=f"{kind} note: " + "\n".join(chunk),
                visibility="internal" if kind == "internal" else "public",
            )

        email_ticket, html_only_ticket = _write_through_email(customer)
        alert = _write_through_alertmanager(api, base)
        health_ticket = _write_health_event()
        incident, postmortem = _write_incident_and_postmortem(engineer, acme)

        # The knowledge base: Markdown with raw HTML, payload titles, a ticket's write-up.
        kb = Article.objects.create(
            title=f"备份 {CORPUS[1]}", body=MARKDOWN_BODY, visibility="public", is_published=True
        )
        for n in (0, 21, 22):
            Article.objects.create(
                title=f"备份 {CORPUS[n]}", body=CORPUS[n], visibility="public", is_published=True
            )
        page.goto(f"{base}/admin/tickets/ticket/{form_ticket.pk}/write-up/")
        page.locator("#content form [type=submit]").first.click()
        page.wait_for_load_state()
        write_up = Article.objects.get(source_ticket=form_ticket)

        # --- what the customer sees ------------------------------------------------------
        listed = cust.open(f"{base}/portal/", text=[CORPUS[4]], shot="portal-list")
        missing = [payload for payload in CORPUS if payload not in listed]
        assert not missing, f"ticket titles not shown as typed in the list: {missing}"
        cust.open(
            f"{base}{form_ticket.get_absolute_url()}",
            text=[*CORPUS, "customer: ", "public: ", "customer note: ", "public note: "],
            absent=["internal: ", "internal note: "],
            shot="portal-ticket",
        )
        cust.open(f"{base}/portal/tickets/{api_number}/", text=[CORPUS[6], *CORPUS])
        cust.open(
            f"{base}{email_ticket.get_absolute_url()}",
            text=[f"Email: {CORPUS[0]}", *CORPUS],
            shot="portal-email-ticket",
        )
        cust.open(
            f"{base}{html_only_ticket.get_absolute_url()}",
            # HTML mail becomes text: markup is dropped, text (entities decoded) is shown as
            # typed, and what was in <script> is not shown at all.
            text=["Hello,", SAFE_MARKER, f"<script>{_run(93)}</script>"],
            absent=[_run(90)],
        )
        cust.open(f"{base}{health_ticket.get_absolute_url()}", text=[*CORPUS])
        cust.open(f"{base}/portal/kb/", text=[kb.title])
        cust.open(f"{base}/portal/kb/{kb.pk}/", text=[kb.title, SAFE_MARKER], shot="portal-kb")
        cust.open(f"{base}/portal/organisation/", text=[CORPUS[0], CORPUS[1], CORPUS[4]])
        cust.open(
            f"{base}/portal/incidents/{incident.number}/",
            text=[CORPUS[4], *CORPUS],
            shot="portal-incident",
        )
        # The ticket form's htmx suggestions put article titles into the live page.
        page = cust.page
        page.goto(f"{base}/portal/tickets/new/")
        page.fill("input[name=title]", "备份")
        page.locator("input[name=title]").press("End")
        page.wait_for_selector("[data-testid=kb-suggestions]")
        cust.check("portal/kb/suggest/ (htmx)", text=[kb.title], shot="portal-kb-suggest")
        # Reflected: search boxes and a ticket number in the path.
        cust.open(f"{base}/portal/?q={quote(CORPUS[1])}")
        cust.open(f"{base}/portal/kb/?q={quote(CORPUS[3])}")
        cust.open(f"{base}/portal/tickets/{quote(CORPUS[0], safe='')}/")

        # --- what engineers see: the workspace and the ops pages -------------------------
        eng.open(f"{base}/admin/", shot="admin-dashboard")
        eng.open(f"{base}/admin/tickets/ticket/", text=CORPUS, shot="admin-queue")
        eng.open(f"{base}/admin/tickets/ticket/?q={quote(CORPUS[1])}")
        eng.open(
            f"{base}/admin/tickets/ticket/{form_ticket.pk}/change/",
            text=[*CORPUS, "internal: ", "internal note: "],
            shot="admin-ticket",
        )
        eng.open(f"{base}/admin/tickets/ticket/{email_ticket.pk}/change/", text=CORPUS[5:6])
        eng.open(f"{base}/admin/tickets/article/{kb.pk}/change/")
        eng.open(f"{base}/portal/kb/{write_up.pk}/", text=[write_up.title])
        eng.open(f"{base}/admin/incidents/incident/")
        eng.open(f"{base}/admin/incidents/incident/{incident.pk}/change/")
        eng.open(f"{base}/admin/incidents/alert/")
        eng.open(f"{base}/admin/incidents/alert/{alert.pk}/change/", shot="admin-alert")
        eng.open(f"{base}/admin/aws_integrations/healthevent/")
        event = HealthEvent.objects.get()
        eng.open(f"{base}/admin/aws_integrations/healthevent/{event.pk}/change/")
        eng.open(f"{base}/admin/spt_portal/customer/{acme.pk}/change/")
        eng.open(f"{base}/admin/spt_portal/user/", text=[CORPUS[1], CORPUS[4]])
        eng.open(f"{base}/ops/alerts/?status=all", text=[CORPUS[0]], shot="ops-alerts")
        eng.open(f"{base}/ops/alerts/?status=all&group={quote(CORPUS[1])}")
        eng.open(f"{base}/ops/incidents/")
        eng.open(
            f"{base}{incident.get_absolute_url()}",
            text=[CORPUS[0], CORPUS[2], CORPUS[4], *CORPUS],
            shot="ops-incident",
        )
        eng.open(f"{base}/ops/incidents/{incident.pk}/communicate/?kind=update&audience=external")
        eng.open(f"{base}/ops/incidents/contacts/", text=[CORPUS[3]])
        eng.open(f"{base}/ops/postmortems/")
        eng.open(f"{base}{postmortem.get_absolute_url()}", shot="postmortem-editor")
        eng.open(
            f"{base}/ops/postmortems/{postmortem.pk}/print/",
            text=[SAFE_MARKER],
            shot="postmortem-print",
        )
        # Approved and published, the sections are shown rendered (not in the editor), the
        # report becomes a knowledge-base article and the summary goes to the customer.
        for status in ("in_review", "approved", "published"):
            postmortems.postmortem_transition(
                postmortem=postmortem, status=status, actor=manager, send_customer_summary=True
            )
        postmortem.refresh_from_db()
        assert postmortem.article_id, "publishing wrote no article"
        eng.open(f"{base}{postmortem.get_absolute_url()}", text=[SAFE_MARKER, CORPUS[1]])
        eng.open(f"{base}/portal/kb/{postmortem.article_id}/", text=[SAFE_MARKER])
        cust.open(f"{base}/portal/incidents/{incident.number}/", text=CORPUS)

        # --- the notices we emailed, rendered as a mail client would ---------------------
        mail = probe("email")
        templates = set()
        logs = NotificationLog.objects.filter(channel="email", created_at__gte=started)
        for log in logs.exclude(body_html="").order_by("id"):
            if log.template in templates:
                continue
            templates.add(log.template)
            mail.page.set_content(log.body_html)
            mail.check(f"email {log.template} to {log.recipient}", shot=f"email-{log.template}")
        for expected in ("ticket_created", "ticket_reply", "health_notice", "incident_page"):
            assert expected in templates, f"no {expected} email rendered: {sorted(templates)}"

        # The sign-in page's ?next= is reflected too, and followed after signing in.
        anon = probe("anonymous")
        anon.open(f"{base}/accounts/login/?next=javascript:{quote(_run(70))}")
        page = anon.page
        page.fill("input[name=username]", "manager@partner.example")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_load_state()
        anon.check("after signing in with a javascript: next")
        assert page.url.startswith(base) and "/accounts/login/" not in page.url
    finally:
        for context in contexts:
            context.close()

    probes = (cust, eng, mail, anon)
    problems = [problem for p in probes for problem in p.problems]
    assert not problems, f"{len(problems)} XSS problems:\n" + "\n".join(problems)
    assert sum(p.checked for p in probes) >= 45  # the pages above were all looked at
