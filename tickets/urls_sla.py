from django.urls import path

from . import report_views

urlpatterns = [
    path("sla/", report_views.sla_overview, name="sla_overview"),
    path("sla/report/", report_views.sla_report_page, name="sla_report"),
    path("sla/report.csv", report_views.sla_report_csv, name="sla_report_csv"),
]
