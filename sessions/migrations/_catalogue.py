"""The symptom catalogue of DESIGN.md section 2, seeded by migration 0002."""

CATALOGUE = {
    "acute": [
        "Dissociation", "Increased heart rate", "Raised blood pressure", "Nausea", "Vomiting",
        "Visual disturbances", "Confusion or impaired judgment", "Sedation", "Dizziness",
        "Headache",
    ],
    "panic": ["Panic attack", "Heightened anxiety"],
    "withdrawal_psychological": [
        "Anxiety", "Depression", "Mood swings", "Irritability", "Confusion", "Hallucinations",
        "Paranoia",
    ],
    "withdrawal_physical": [
        "Fatigue", "Muscle pain", "Tremors", "Sweating", "Nausea and vomiting",
        "Increased heart rate", "Blood pressure changes",
    ],
    "withdrawal_cognitive": [
        "Difficulty concentrating", "Memory problems", "Impaired decision-making",
    ],
    "withdrawal_sleep": ["Insomnia", "Vivid dreams or nightmares"],
    "other": ["Cravings", "Social withdrawal"],
}
