from django.apps import AppConfig


class KnowledgeBaseConfig(AppConfig):
    """Help center articles and the community forum."""

    name = "knowledge_base"
    verbose_name = "Knowledge base"
