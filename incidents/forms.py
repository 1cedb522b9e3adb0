from django import forms
from django.utils.translation import gettext_lazy as _

from spt_portal.models import User

from .models import Audience, CommunicationKind, Level, Role, Severity
from .targets import propose_level


def workers():
    return (
        User.objects.filter(is_active=True, is_staff=True, groups__name__in=["engineer", "manager"])
        .distinct()
        .order_by("full_name", "email")
    )


class Bootstrap:
    """Bootstrap classes on the widgets of forms rendered field by field (not by crispy)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select form-select-sm"
            else:
                css = "form-control form-control-sm"
            widget.attrs.setdefault("class", css)


class TriageFields(forms.Form):
    """Seed 003's decision tree, asked as three questions."""

    service_down = forms.BooleanField(
        label=_("Is the service completely unavailable?"), required=False
    )
    core_affected = forms.BooleanField(label=_("Is a core function affected?"), required=False)
    degraded = forms.BooleanField(label=_("Is the user experience degraded?"), required=False)

    def chosen_level(self) -> str:
        """The level picked by hand, else the one the three answers lead to."""
        data = self.cleaned_data
        return data.get("level") or propose_level(
            service_down=data["service_down"],
            core_affected=data["core_affected"],
            degraded=data["degraded"],
        )


class IncidentCreateForm(TriageFields):
    title = forms.CharField(label=_("Title"), max_length=500)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    service = forms.CharField(label=_("Affected service"), max_length=200, required=False)
    category = forms.CharField(label=_("Category"), max_length=100, required=False)
    level = forms.ChoiceField(
        label=_("Level"),
        choices=[("", _("From the triage questions"))] + list(Level.choices),
        required=False,
    )


class LevelForm(Bootstrap, TriageFields):
    level = forms.ChoiceField(
        label=_("Level"),
        choices=[("", _("From the triage questions"))] + list(Level.choices),
        required=False,
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class RoleForm(Bootstrap, forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    user = forms.ModelChoiceField(label=_("Person"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = workers()


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}))
    pinned = forms.BooleanField(label=_("Key moment"), required=False)


class DetailsForm(Bootstrap, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=500)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices)
    service = forms.CharField(label=_("Affected service"), max_length=200, required=False)
    category = forms.CharField(label=_("Category"), max_length=100, required=False)
    subcategory = forms.CharField(label=_("Subcategory"), max_length=100, required=False)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    impact_analysis = forms.CharField(
        label=_("Impact analysis"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    root_cause = forms.CharField(
        label=_("Root cause"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    resolution_steps = forms.CharField(
        label=_("Resolution steps"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class EscalateForm(forms.Form):
    level = forms.IntegerField(label=_("Escalation level"), min_value=1, max_value=3)
    reason = forms.CharField(label=_("Reason"), max_length=2000)
    notify_users = forms.ModelMultipleChoiceField(
        label=_("Also page"), queryset=User.objects.none(), required=False
    )
    auto_assign = forms.BooleanField(label=_("Hand the incident to that layer"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notify_users"].queryset = workers()


class CommunicationForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Message"), choices=CommunicationKind.choices, widget=forms.HiddenInput
    )
    audience = forms.ChoiceField(
        label=_("Audience"), choices=Audience.choices, widget=forms.HiddenInput
    )
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 14}))


class LinkTicketForm(forms.Form):
    number = forms.CharField(label=_("Ticket number"), max_length=20)


class IgnoreForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)
