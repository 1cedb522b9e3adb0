from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from sla.models import Priority
from sla.services import current_policy
from spt_portal.models import Skill


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


def priority_choices_with_definitions():
    """The priority choices with the SLA policy's definitions beside them (seed 001)."""
    policy = current_policy()
    targets = {t.priority: t for t in policy.targets.all()}
    choices = []
    for value, label in Priority.choices:
        target = targets.get(value)
        if target is None:
            choices.append((value, label))
            continue
        choices.append((value, f"{label}: {target.localized_description}"))
    return choices


class TicketCreateForm(forms.Form):
    title = forms.CharField(
        label=_("Title"),
        max_length=500,
        widget=forms.TextInput(
            attrs={
                # htmx: suggest knowledge-base articles from the words of the title.
                "hx-get": reverse_lazy("portal:kb_suggest"),
                "hx-trigger": "keyup changed delay:400ms",
                "hx-target": "#kb-suggestions",
                "autocomplete": "off",
            }
        ),
    )
    description = forms.CharField(
        label=_("Description"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What happened, since when, which AWS account, region and resources."),
    )
    priority = forms.ChoiceField(
        label=_("Priority"), widget=forms.RadioSelect, initial=Priority.MEDIUM
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Skill.objects.order_by("name"), required=False
    )
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["priority"].choices = priority_choices_with_definitions()


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your reply"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    attachments = MultipleFileField(label=_("Attachments"))

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("body", "").strip() and not cleaned.get("attachments"):
            raise forms.ValidationError(_("Write a message or attach a file."))
        return cleaned
