"""Fill in a Django admin change form the way a browser submits it.

`form_data(response)` returns the POST data of the page as rendered: read from the HTML the
page carries, never from the Django form objects, so a field the form expects but the page does
not render (a hidden version dropped with a frozen section, a default no widget shows) is
missing here exactly as it is from a nurse's browser. A test then sets the fields a nurse would
type.
"""

from datetime import datetime
from html.parser import HTMLParser

from django.utils import timezone


class BrowserFormParser(HTMLParser):
    """The successful controls of one <form> (by id), in document order, as a browser
    collects them on submit (HTML Living Standard, "constructing the entry list")."""

    SKIPPED_INPUT_TYPES = {"submit", "button", "image", "file", "reset"}

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.found = False
        self.entries: list[tuple[str, str]] = []
        self._select = None  # (name, multiple, options [(value, selected)])
        self._option = None  # [value or None, selected, text]
        self._textarea = None  # [name, text]

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.in_form = attributes.get("id") == self.form_id
            self.found = self.found or self.in_form
            return
        if not self.in_form:
            return
        name = attributes.get("name")
        disabled = "disabled" in attributes
        if tag == "input" and name and not disabled:
            kind = (attributes.get("type") or "text").lower()
            if kind in self.SKIPPED_INPUT_TYPES:
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attributes:  # value="" submits "", no value at all "on"
                    value = attributes["value"] or "" if "value" in attributes else "on"
                    self.entries.append((name, value))
                return
            self.entries.append((name, attributes.get("value") or ""))
        elif tag == "select" and name and not disabled:
            self._select = (name, "multiple" in attributes, [])
        elif tag in ("option", "optgroup") and self._select is not None:
            self._close_option()  # an <option> ends at the next one, closed or not
            if tag == "option":
                self._option = [attributes.get("value"), "selected" in attributes, ""]
        elif tag == "textarea" and name and not disabled:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._option is not None:
            self._option[2] += data
        if self._textarea is not None:
            self._textarea[1] += data

    def _close_option(self):
        if self._option is not None and self._select is not None:
            value, selected, text = self._option
            self._select[2].append((" ".join(text.split()) if value is None else value,
                                    selected))
        self._option = None

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form = False
        elif tag == "option":
            self._close_option()
        elif tag == "select" and self._select is not None:
            self._close_option()
            name, multiple, options = self._select
            chosen = [value for value, selected in options if selected]
            if not chosen and not multiple and options:
                chosen = [options[0][0]]
            if not multiple:
                chosen = chosen[-1:]  # a single select submits its last selected option
            self.entries += [(name, value) for value in chosen]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            # The parser drops a newline right after <textarea>, as the HTML spec says.
            if text.startswith("\r\n"):
                text = text[2:]
            elif text.startswith("\n"):
                text = text[1:]
            self.entries.append((name, text))
            self._textarea = None


def browser_form_data(html: str, form_id: str) -> dict[str, list[str]]:
    parser = BrowserFormParser(form_id)
    parser.feed(html)
    parser.close()
    assert parser.found, f"no <form id={form_id!r}> on the page"
    data: dict[str, list[str]] = {}
    for name, value in parser.entries:
        data.setdefault(name, []).append(value)
    return data


def page_form_data(response, form_id: str) -> dict:
    """The form `form_id` of the page in `response` as a browser would submit it unchanged:
    one value per name as a string, several as a list."""
    data = browser_form_data(response.content.decode(), form_id)
    return {name: values[0] if len(values) == 1 else values for name, values in data.items()}


def form_data(response) -> dict:
    """The admin change form of `response` as a browser would submit it unchanged."""
    return page_form_data(response, f"{response.context['opts'].model_name}_form")


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
