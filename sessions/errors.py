"""The one domain error: a refused action, with a message a nurse can act on."""

from django.core.exceptions import ValidationError


class WorkflowError(ValidationError):
    """A refused workflow step or safety rule.

    It is a ValidationError so that raising it inside a form's ``clean()`` shows the message as
    a form error (or a field error when ``field`` is given) with no further plumbing.
    """

    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__({field: [message]} if field else message)

    @property
    def text(self) -> str:
        return " ".join(self.messages)
