"""The staff roles and what each may do. Groups are created by a migration
(treatment_sessions 0003, re-synced by 0005) and kept in step with this table; README documents
it. A change here needs a migration that calls sync_role_groups again — depending on the
migrations of every model the table names. A model added to the table makes the earlier
re-syncs meet a permission that does not exist yet: run those with ``strict=False``
(treatment_sessions 0006 does, for the security log of audit 0003)."""

from dataclasses import dataclass

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"

# Who may be chosen for a role in the record (DESIGN.md, "Safety rules"), each defined by one
# permission. A clinician is whoever may sign off serious side effects: that is what the
# responsible clinician is alerted to do, so someone who cannot would be alerted in vain. Whoever
# may record a dose (nurses and clinicians) may be recorded as having given it.
CLINICIAN_PERMISSION = "treatment_sessions.sign_off_sideeffectobservation"
ADMINISTER_PERMISSION = "treatment_sessions.add_administration"


@dataclass(frozen=True)
class RecordRole:
    """A role someone is chosen for in the record, and how a refusal names it."""

    permission: str
    title: str  # "… cannot be {title}: …"
    who_may: str

    def refusal(self, user) -> str:
        return f"{person_label(user)} cannot be {self.title}: {self.who_may}."


RESPONSIBLE_CLINICIAN = RecordRole(CLINICIAN_PERMISSION, "the responsible clinician",
                                   "only clinicians can")
ADMINISTERS = RecordRole(ADMINISTER_PERMISSION, "recorded as giving the dose",
                         "only nurses and clinicians can")


def person_label(user) -> str:
    """How staff are named in choice lists and refusals: "Casey Morgan (clinician)"."""
    name = user.get_full_name()
    return f"{name} ({user.get_username()})" if name else user.get_username()

# role -> {"app_label.model": actions}
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "Front desk": {
        "patients.patient": (VIEW, ADD, CHANGE),
        "treatment_sessions.treatmentsession": (VIEW, ADD, CHANGE),
        "treatment_sessions.treatmentcourse": (VIEW,),
        "treatment_sessions.reminder": (VIEW,),
    },
    "Nurse": {
        "patients.patient": (VIEW, ADD, CHANGE),
        "patients.condition": (VIEW, ADD, CHANGE),
        "patients.medication": (VIEW, ADD, CHANGE),
        "treatment_sessions.treatmentcourse": (VIEW,),
        "treatment_sessions.treatmentsession": (VIEW, ADD, CHANGE),
        "treatment_sessions.consultation": (VIEW, ADD, CHANGE),
        "treatment_sessions.evaluation": (VIEW, ADD, CHANGE),
        "treatment_sessions.expectationsetting": (VIEW, ADD, CHANGE),
        "treatment_sessions.administration": (VIEW, ADD, CHANGE),
        "treatment_sessions.monitoring": (VIEW, ADD, CHANGE),
        "treatment_sessions.vitalsign": (VIEW, ADD, CHANGE),
        "treatment_sessions.sideeffectobservation": (VIEW, ADD, CHANGE),
        "treatment_sessions.followup": (VIEW, ADD, CHANGE),
        "treatment_sessions.symptomtype": (VIEW,),
        "treatment_sessions.reminder": (VIEW,),
    },
    # Users, catalogue, settings — and no patient records: least privilege (issue 5). Reads
    # the access log (who viewed which record) and the security log (who changed whose
    # privileges), and lifts a login lockout. Not the TOTP
    # devices: django-otp's admin shows any device's secret to whoever may view devices, so
    # resetting a lost phone is for a superuser.
    "Clinic admin": {
        "auth.user": (VIEW, ADD, CHANGE),
        "auth.group": (VIEW,),
        "treatment_sessions.symptomtype": (VIEW, ADD, CHANGE),
        "treatment_sessions.reminder": (VIEW, CHANGE),
        "audit.patientaccess": (VIEW,),
        "audit.securityevent": (VIEW,),
        "axes.accessattempt": (VIEW, DELETE),
    },
}
# A clinician may do all a nurse may, plus manage courses and the clinical decisions.
ROLE_PERMISSIONS["Clinician"] = {
    **ROLE_PERMISSIONS["Nurse"],
    "treatment_sessions.treatmentcourse": (VIEW, ADD, CHANGE),
}
EXTRA_PERMISSIONS = {
    "Clinician": (
        "treatment_sessions.override_evaluation_block",
        CLINICIAN_PERMISSION,
    ),
}


def permission_codenames(role: str) -> list[str]:
    """'app_label.codename' for every permission of a role."""
    codenames = [
        f"{model.split('.')[0]}.{action}_{model.split('.')[1]}"
        for model, actions in ROLE_PERMISSIONS[role].items()
        for action in actions
    ]
    return codenames + list(EXTRA_PERMISSIONS.get(role, ()))


def sync_role_groups(apps, schema_editor, *, strict: bool = True) -> None:
    """Migration helper: create the groups and set each one's permissions exactly as above.

    ``strict=False`` (migration 0003, which runs before later apps' models exist) skips
    permissions not created yet; the later re-sync migration sets them.
    """
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLE_PERMISSIONS:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in permission_codenames(role):
            app_label, codename = dotted.split(".")
            permissions = Permission.objects.filter(content_type__app_label=app_label,
                                                    codename=codename)
            if strict or permissions.exists():
                wanted.append(permissions.get())
        group.permissions.set(wanted)
