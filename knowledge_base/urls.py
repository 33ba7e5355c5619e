from django.urls import path

from knowledge_base import views

urlpatterns = [
    path("", views.home, name="kb-home"),
    path("search/", views.search, name="kb-search"),
    path("articles/<slug:slug>/", views.article, name="kb-article"),
]
