"""Fill in a Django admin change form the way a browser would submit it.

`form_data(response)` returns the POST data of the page as rendered (every form, every inline
and its management form); a test then sets the fields a nurse would type.
"""

from datetime import datetime

from django.forms import CheckboxInput, MultiWidget
from django.utils import timezone


def _field_items(form):
    for bound in form:
        widget = bound.field.widget
        value = bound.value()
        if isinstance(widget, MultiWidget):
            parts = widget.decompress(value)
            for index, part in enumerate(parts):
                if isinstance(part, datetime):
                    part = timezone.localtime(part) if timezone.is_aware(part) else part
                yield f"{bound.html_name}_{index}", "" if part is None else str(part)
        elif isinstance(widget, CheckboxInput):
            if value:
                yield bound.html_name, "on"
        elif value is None:
            yield bound.html_name, ""
        elif isinstance(value, list | tuple):
            yield bound.html_name, [str(v) for v in value]
        else:
            yield bound.html_name, str(value)


def form_data(response) -> dict:
    context = response.context
    data = dict(_field_items(context["adminform"].form))
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(dict(_field_items(formset.management_form)))
        for form in formset.forms:
            data.update(dict(_field_items(form)))
    return data


def set_datetime(data: dict, name: str, moment: datetime) -> None:
    local = timezone.localtime(moment)
    data[f"{name}_0"] = local.strftime("%Y-%m-%d")
    data[f"{name}_1"] = local.strftime("%H:%M:%S")


def set_fields(data: dict, prefix: str, **fields) -> None:
    """Set `prefix-field` values; datetimes split, booleans as checkboxes."""
    for name, value in fields.items():
        key = f"{prefix}-{name}"
        if isinstance(value, datetime):
            set_datetime(data, key, value)
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
            else:
                data.pop(key, None)
        else:
            data[key] = "" if value is None else str(value)
