from django.urls import path

from spt_portal import views as core_views

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.ticket_list, name="home"),
    path("organisation/", core_views.portal_home, name="organisation"),
    path("tickets/new/", views.ticket_create, name="ticket_create"),
    path("tickets/<str:number>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<str:number>/confirm/", views.ticket_confirm, name="ticket_confirm"),
    path("tickets/<str:number>/reopen/", views.ticket_reopen, name="ticket_reopen"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("kb/", views.kb_list, name="kb"),
    path("kb/suggest/", views.kb_suggest, name="kb_suggest"),
    path("kb/<int:pk>/", views.kb_detail, name="kb_article"),
]
