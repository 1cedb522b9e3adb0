from django.urls import path

from . import views

urlpatterns = [
    path("ops/oncall/", views.oncall_overview, name="oncall"),
    path("oncall/ical/<str:token>.ics", views.oncall_ical, name="oncall_ical"),
    path("support/contact", views.support_contact, name="support_contact"),
]
