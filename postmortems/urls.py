from django.urls import path

from . import views

app_name = "postmortems"

urlpatterns = [
    path("ops/postmortems/", views.postmortem_list, name="list"),
    path("ops/postmortems/metrics/", views.postmortem_metrics, name="metrics"),
    path(
        "ops/incidents/<int:incident_pk>/postmortem/",
        views.postmortem_create,
        name="create",
    ),
    path("ops/postmortems/<int:pk>/", views.postmortem_edit, name="edit"),
    path("ops/postmortems/<int:pk>/autosave/", views.postmortem_autosave, name="autosave"),
    path("ops/postmortems/<int:pk>/print/", views.postmortem_print, name="print"),
    path("ops/postmortems/<int:pk>/status/", views.postmortem_status, name="status"),
    path("ops/postmortems/<int:pk>/meeting/", views.postmortem_meeting, name="meeting"),
    path(
        "ops/postmortems/<int:pk>/participants/",
        views.postmortem_participants,
        name="participants",
    ),
    path("ops/postmortems/<int:pk>/comments/", views.postmortem_comment, name="comment"),
    path("ops/postmortems/<int:pk>/actions/", views.action_item_add, name="action_add"),
    path(
        "ops/postmortems/<int:pk>/actions/<int:item_id>/",
        views.action_item_change,
        name="action_change",
    ),
]
