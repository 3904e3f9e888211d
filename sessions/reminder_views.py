"""The public one-click opt-out page for reminder emails.

No login: the signed token in the link identifies the patient and is the only authority. A GET
never changes anything (mail scanners and link previewers prefetch links); it shows a button
that POSTs. A POST — the button, or an RFC 8058 one-click request from a mail client
(`List-Unsubscribe=One-Click`) — opts the patient out. CSRF protection is off for this view
because a mail client's one-click POST cannot carry a token; the signature does that job, and
all it can ever do is turn one patient's reminders off.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from patients.services import patient_reminders_opt_out
from sessions.reminder_emails import patient_for_opt_out_token

INVALID_LINK = ("This link is not valid. It may have been copied incompletely; please use the "
                "link from the email exactly as it is, or call us and we will stop the reminders.")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def reminder_opt_out(request: HttpRequest, token: str) -> HttpResponse:
    patient = patient_for_opt_out_token(token)
    if patient is None:
        return render(request, "reminders/opt_out.html", {"error": INVALID_LINK}, status=400)
    if request.method == "POST":
        patient_reminders_opt_out(patient=patient)
        return render(request, "reminders/opt_out.html", {"done": True})
    return render(request, "reminders/opt_out.html",
                  {"already_out": not patient.reminders_opt_in})
