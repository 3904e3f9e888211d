"""The staff roles and what each may do. Groups are created by a migration
(treatment_sessions 0003) and kept in step with this table; README documents it."""

VIEW, ADD, CHANGE = "view", "add", "change"

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
    "Clinic admin": {
        "auth.user": (VIEW, ADD, CHANGE),
        "auth.group": (VIEW,),
        "treatment_sessions.symptomtype": (VIEW, ADD, CHANGE),
        "treatment_sessions.reminder": (VIEW, CHANGE),
        "patients.patient": (VIEW,),
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
        "treatment_sessions.sign_off_sideeffectobservation",
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
