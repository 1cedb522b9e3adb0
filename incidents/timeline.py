"""Writing the incident timeline: one helper, so every entry looks the same."""

from .models import IncidentTimelineEntry


def record(
    incident, *, kind: str, text: str, actor=None, pinned=False, at=None, data=None
) -> IncidentTimelineEntry:
    fields = {
        "incident": incident,
        "kind": kind,
        "text": text,
        "author": actor if actor is not None and actor.is_authenticated else None,
        "pinned": pinned,
        "data": data or {},
    }
    if at is not None:
        fields["at"] = at
    return IncidentTimelineEntry.objects.create(**fields)
