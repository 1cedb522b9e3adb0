from django import forms
from django.utils.translation import gettext_lazy as _

from spt_portal.models import CustomerAWSAccount

SEVERITIES = [
    ("low", _("low: general guidance")),
    ("normal", _("normal: system impaired")),
    ("high", _("high: production system impaired")),
    ("urgent", _("urgent: production system down")),
    ("critical", _("critical: business-critical system down (Enterprise)")),
]


class CaseCreateForm(forms.Form):
    account = forms.ModelChoiceField(
        label=_("AWS account"), queryset=CustomerAWSAccount.objects.none()
    )
    service_code = forms.CharField(
        label=_("Service code"),
        max_length=100,
        help_text=_("e.g. amazon-elastic-compute-cloud-linux"),
    )
    category_code = forms.CharField(
        label=_("Category code"), max_length=100, help_text=_("e.g. instance-issue")
    )
    severity = forms.ChoiceField(label=_("Severity"), choices=SEVERITIES)
    language = forms.ChoiceField(label=_("Language"), choices=[("zh", "中文"), ("en", "English")])
    subject = forms.CharField(label=_("Subject"), max_length=250)
    body = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args, ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = CustomerAWSAccount.objects.filter(
            customer_id=ticket.customer_id, support_sync_enabled=True
        ).exclude(role_arn="")
