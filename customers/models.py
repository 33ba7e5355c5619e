from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    """The channels a customer can reach us through (shared by identities, inboxes and messages)."""

    EMAIL = "email", _("Email")
    WEB_FORM = "web_form", _("Web form")
    CHAT = "chat", _("Live chat")
    LINE = "line", _("LINE")
    PHONE = "phone", _("Phone")
    SOCIAL = "social", _("Social messaging")
    API = "api", _("API")


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    JAPANESE = "ja", _("Japanese")


class Tag(models.Model):
    """A label shared by customers and tickets, so routing and segments speak one vocabulary."""

    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    domains = models.CharField(
        max_length=500, blank=True, help_text=_("Comma-separated email domains of this organization.")
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    name = models.CharField(max_length=200, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    preferred_language = models.CharField(max_length=8, choices=Language.choices, blank=True)
    preferred_channel = models.CharField(max_length=16, choices=ChannelKind.choices, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
        help_text=_("Portal login of this customer, if they have one."),
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_customers", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(Lower("name"), name="customer_name_ci")]

    def __str__(self) -> str:
        return self.name or f"Customer #{self.pk}"

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class IdentityKind(models.TextChoices):
    EMAIL = "email", _("Email address")
    PHONE = "phone", _("Phone number (E.164)")
    LINE = "line", _("LINE user id")
    CHAT_VISITOR = "chat_visitor", _("Chat visitor")
    SOCIAL = "social", _("Social handle")
    EXTERNAL = "external", _("External id")


class Identity(models.Model):
    """One address of a customer on one channel. The (kind, value) pair names exactly one customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    value = models.CharField(max_length=320, help_text=_("Normalized: lower-case email, E.164 phone, ..."))
    display_value = models.CharField(max_length=320, blank=True, help_text=_("As the customer wrote it."))
    verified = models.BooleanField(
        default=False, help_text=_("Proven to belong to the customer (a confirmed address, a vouched login).")
    )
    bouncing_since = models.DateTimeField(
        null=True, blank=True, help_text=_("Mail to this address bounced; cleared when the customer writes again.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        ordering = ["kind", "value"]
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="identity_unique_kind_value")]
        indexes = [models.Index(fields=["customer", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class CustomerNote(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.body[:60]


class Segment(models.Model):
    """A saved filter over customers (same parameters as the customer list API), used by surveys and routing."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    filters = models.JSONField(
        default=dict,
        blank=True,
        help_text=_('Customer filter parameters, e.g. {"tag": "vip", "language": "ja"}; {} is every customer.'),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerMerge(models.Model):
    """A merge of `source` into `target`, with what moved, so it can be undone."""

    source = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_as_source")
    target = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_as_target")
    performed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    moved = models.JSONField(default=dict, help_text=_("Row ids moved per relation, and target fields filled."))
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.source_id} → #{self.target_id}"
