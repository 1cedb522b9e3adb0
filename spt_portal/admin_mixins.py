class EvidenceAdminMixin:
    """A record kept as evidence (a log): viewed in the workspace, never added, edited or
    deleted there."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
