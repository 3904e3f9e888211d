"""The form half of optimistic locking: a hidden ``version`` travels with the form and a stale
one is refused with who changed the record and when."""

from django import forms

from audit.versioning import stale_message, version_check


class VersionedModelForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = getattr(self.instance, "version", 0) or 0
        self.fields["version"].initial = current

    @property
    def changed_data(self):
        """What the user changed. The version is bookkeeping: a page that does not render it
        (a read-only record) or carries an older one has not changed the record by that alone;
        a stale version matters only together with a real change, and ``clean`` refuses that."""
        return [name for name in super().changed_data if name != "version"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None and self.has_changed():
            version_check(instance=self.instance, submitted_version=cleaned.get("version"))
        return cleaned


class OneToOneVersionedModelForm(VersionedModelForm):
    """For a record that exists at most once per parent (a session's steps): a new one
    submitted from a page opened before a colleague recorded it is refused too."""

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and self.has_changed():
            model = type(self.instance)
            for field in model._meta.fields:
                if not field.one_to_one or getattr(field.remote_field, "parent_link", False):
                    continue
                value = getattr(self.instance, field.attname, None)
                existing = value and model._default_manager.filter(**{field.attname: value}).first()
                if existing:
                    raise forms.ValidationError(stale_message(existing))
        return cleaned
