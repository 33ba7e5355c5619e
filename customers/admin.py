from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from customers import services
from customers.identities import normalize_identity
from customers.models import Customer, CustomerMerge, CustomerNote, Identity, Organization, Segment, Tag
from customers.selectors import segment_customers


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ["kind", "value", "display_value", "verified", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # through the Identity admin, which normalizes and checks conflicts


class CustomerNoteInline(admin.TabularInline):
    model = CustomerNote
    extra = 0
    fields = ["body", "author", "created_at"]
    readonly_fields = ["author", "created_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "organization",
        "preferred_language",
        "preferred_channel",
        "merged_into",
        "created_at",
    ]
    list_filter = [
        "preferred_language",
        "preferred_channel",
        "organization",
        "tags",
        ("merged_into", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "identities__value", "organization__name"]
    list_select_related = ["organization", "merged_into"]
    autocomplete_fields = ["organization", "user"]
    filter_horizontal = ["tags"]
    readonly_fields = ["merged_into", "created_at", "updated_at"]
    inlines = [IdentityInline, CustomerNoteInline]
    actions = ["merge_into_oldest"]

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            services.update_customer(customer=obj, actor=request.user, **fields)
            if "user" in form.changed_data:
                Customer.objects.filter(pk=obj.pk).update(user=form.cleaned_data["user"])
        else:
            created = services.create_customer(actor=request.user, **fields)
            obj.pk = created.pk

    def save_formset(self, request, form, formset, change):
        if formset.model is CustomerNote:
            for note_form in formset.forms:
                if note_form.has_changed() and not note_form.instance.pk and note_form.cleaned_data.get("body"):
                    services.add_customer_note(
                        customer=form.instance, author=request.user, body=note_form.cleaned_data["body"]
                    )
            return
        super().save_formset(request, form, formset, change)

    @admin.action(description="Merge the selected customers into the oldest of them")
    def merge_into_oldest(self, request, queryset):
        customers = list(queryset.filter(merged_into__isnull=True).order_by("pk"))
        if len(customers) < 2:
            self.message_user(request, "Select at least two customers that are not merged.", messages.WARNING)
            return
        target, sources = customers[0], customers[1:]
        for source in sources:
            try:
                services.merge_customers(source=source, target=target, actor=request.user, reason="admin action")
            except services.MergeNotAllowed as error:
                self.message_user(request, f"{source}: {error}", messages.ERROR)
        self.message_user(request, f"Merged {len(sources)} customer(s) into {target}. Merges can be undone.")


class IdentityAdminForm(forms.ModelForm):
    class Meta:
        model = Identity
        fields = ["customer", "kind", "value", "verified"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk or not cleaned.get("kind") or not cleaned.get("value"):
            return cleaned
        try:
            normalized = normalize_identity(cleaned["kind"], cleaned["value"])
        except ValidationError as error:
            raise ValidationError({"value": error.messages}) from error
        holder = Identity.objects.filter(kind=cleaned["kind"], value=normalized).exclude(
            customer=cleaned.get("customer")
        )
        if holder.exists():
            raise ValidationError({"value": "This address belongs to another customer; merge the customers instead."})
        return cleaned


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    form = IdentityAdminForm
    list_display = ["kind", "value", "customer", "verified", "created_at"]
    list_filter = ["kind", "verified"]
    search_fields = ["value", "display_value", "customer__name"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]

    def get_readonly_fields(self, request, obj=None):
        return ["kind", "value", "display_value", "customer", "created_at"] if obj else ["display_value", "created_at"]

    def save_model(self, request, obj, form, change):
        if change:
            if "verified" in form.changed_data:
                Identity.objects.filter(pk=obj.pk).update(verified=obj.verified)
            return
        saved = services.add_identity(
            customer=obj.customer, kind=obj.kind, value=obj.value, verified=obj.verified, actor=request.user
        )
        obj.pk = saved.pk


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "domains", "created_at"]
    search_fields = ["name", "domains"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "filters", "matching_customers", "created_at"]
    search_fields = ["name", "description"]

    @admin.display(description="Customers now")
    def matching_customers(self, segment):
        return segment_customers(segment).count()

    def save_model(self, request, obj, form, change):
        services.save_segment(segment=obj)


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "target", "performed_by", "reason", "created_at", "undone_at"]
    list_filter = [("undone_at", admin.EmptyFieldListFilter)]
    search_fields = ["source__name", "target__name", "reason"]
    list_select_related = ["source", "target", "performed_by"]
    readonly_fields = ["source", "target", "performed_by", "reason", "moved", "created_at", "undone_at", "undone_by"]
    actions = ["undo"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Undo the selected merges")
    def undo(self, request, queryset):
        for merge in queryset.order_by("-created_at"):
            try:
                services.undo_merge(merge=merge, actor=request.user)
            except services.MergeNotAllowed as error:
                self.message_user(request, f"Merge #{merge.pk}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"Merge #{merge.pk} undone.")
