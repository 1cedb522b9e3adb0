from django.urls import path

from . import hooks, views

app_name = "incidents"

urlpatterns = [
    path("ops/alerts/", views.alert_list, name="alert_list"),
    path("ops/alerts/action/", views.alert_action, name="alert_action"),
    path("ops/incidents/", views.board, name="board"),
    path("ops/incidents/new/", views.incident_create, name="incident_create"),
    path("ops/incidents/metrics/", views.incident_metrics, name="metrics"),
    path("ops/incidents/contacts/", views.contacts, name="contacts"),
    path("ops/incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("ops/incidents/<int:pk>/status/", views.incident_status, name="incident_status"),
    path("ops/incidents/<int:pk>/acknowledge/", views.incident_acknowledge, name="incident_ack"),
    path("ops/incidents/<int:pk>/level/", views.incident_level, name="incident_level"),
    path("ops/incidents/<int:pk>/role/", views.incident_role, name="incident_role"),
    path("ops/incidents/<int:pk>/note/", views.incident_note, name="incident_note"),
    path(
        "ops/incidents/<int:pk>/timeline/<int:entry_id>/pin/",
        views.timeline_pin,
        name="timeline_pin",
    ),
    path("ops/incidents/<int:pk>/details/", views.incident_details, name="incident_details"),
    path("ops/incidents/<int:pk>/tickets/", views.incident_link_ticket, name="incident_ticket"),
    path("ops/incidents/<int:pk>/emergency/", views.incident_emergency, name="incident_emergency"),
    path("ops/incidents/<int:pk>/escalate/", views.incident_escalate, name="incident_escalate"),
    path(
        "ops/incidents/<int:pk>/communicate/",
        views.incident_communicate,
        name="incident_communicate",
    ),
    path(
        "ops/incidents/<int:pk>/prometheus/",
        views.incident_prometheus,
        name="incident_prometheus",
    ),
    path("pages/ack/<str:token>/", views.page_ack, name="page_ack"),
    path("portal/incidents/<str:number>/", views.portal_incident, name="portal_incident"),
    path("hooks/alertmanager/", hooks.alertmanager_hook, name="hook_alertmanager"),
    path("hooks/grafana/", hooks.grafana_hook, name="hook_grafana"),
    path("hooks/alerts/", hooks.generic_hook, name="hook_generic"),
]
