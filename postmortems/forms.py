from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.forms import Bootstrap, workers
from incidents.models import Level

from .models import ActionItem, ActionPriority, ActionStatus, PostMortem, PostMortemStatus
from .services import EDITABLE_FIELDS

SECTION_ROWS = {
    "summary": 6,
    "timeline": 12,
    "root_cause": 8,
    "impact": 6,
    "went_well": 5,
    "to_improve": 5,
    "lessons": 5,
    "customer_summary": 4,
}


class PostmortemForm(Bootstrap, forms.ModelForm):
    """The editor: seed 003's sections as Markdown text areas, plus the version the editor
    loaded (a stale save is refused rather than overwriting somebody else's)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    class Meta:
        model = PostMortem
        fields = EDITABLE_FIELDS
        widgets = {
            name: forms.Textarea(attrs={"rows": rows, "class": "form-control font-monospace"})
            for name, rows in SECTION_ROWS.items()
        }


class MeetingForm(Bootstrap, forms.Form):
    meeting_at = forms.DateTimeField(
        label=_("Review meeting"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class ParticipantsForm(Bootstrap, forms.Form):
    participants = forms.ModelMultipleChoiceField(
        label=_("Participants"), queryset=workers(), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participants"].queryset = workers()
        self.fields["participants"].widget.attrs.update({"class": "form-select", "size": 6})


class ActionItemForm(Bootstrap, forms.ModelForm):
    ticket_number = forms.CharField(label=_("Linked ticket"), max_length=30, required=False)

    class Meta:
        model = ActionItem
        fields = ("title", "owner", "due_date", "priority")
        widgets = {"due_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = workers()


class ActionItemUpdateForm(Bootstrap, forms.Form):
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=workers(), required=False)
    due_date = forms.DateField(
        label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=ActionPriority.choices)
    status = forms.ChoiceField(label=_("Status"), choices=ActionStatus.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = workers()


class CommentForm(Bootstrap, forms.Form):
    body = forms.CharField(
        label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000
    )


class TransitionForm(forms.Form):
    status = forms.ChoiceField(choices=PostMortemStatus.choices)
    send_customer_summary = forms.BooleanField(required=False)


class ListFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All"))] + PostMortemStatus.choices, required=False
    )
    level = forms.ChoiceField(
        label=_("Level"), choices=[("", _("All"))] + Level.choices, required=False
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
