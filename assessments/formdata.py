"""The first published form, as data: the Calderbridge single assessment, v1.

An area publishes a new version with ``services.publish_form`` (a dict of this shape), never a
migration. The nine domains are the Single Assessment Process's.
"""

from __future__ import annotations

from typing import Any

ALL = ["contact", "overview", "specialist", "comprehensive"]
DEEP = ["overview", "specialist", "comprehensive"]
FULL = ["overview", "comprehensive"]
COMPREHENSIVE = ["comprehensive"]

YES_NO = [["yes", "Yes"], ["no", "No"]]
NEED = [
    ["independent", "Manages without help"],
    ["some_help", "Needs some help"],
    ["full_help", "Needs help with all of it"],
]


def _q(key: str, text: str, kind: str, required_at: list[str], **extra: Any) -> dict[str, Any]:
    return {"key": key, "text": text, "kind": kind, "required_at": required_at, **extra}


CALDERBRIDGE_V1: dict[str, Any] = {
    "slug": "calderbridge-sap",
    "name": "Calderbridge single assessment",
    "amts_cutoff": 8,
    "domains": [
        {
            "key": "perspective",
            "title": "The person's own perspective",
            "required_at": ALL,
            "questions": [
                _q(
                    "main_concern",
                    "What matters most to the person now, in their words",
                    "text",
                    ALL,
                ),
                _q(
                    "wants_to_stay_home",
                    "Does the person want to live at home?",
                    "choice",
                    DEEP,
                    choices=YES_NO,
                ),
            ],
        },
        {
            "key": "clinical_background",
            "title": "Clinical background",
            "required_at": ALL,
            "questions": [
                _q("conditions", "Main health conditions", "text", ALL),
                _q(
                    "last_admission",
                    "Date of the last hospital admission",
                    "date",
                    [],
                    past_only=True,
                ),
                _q(
                    "medicines_count",
                    "Number of regular medicines",
                    "number",
                    DEEP,
                    minimum=0,
                    maximum=50,
                ),
            ],
        },
        {
            "key": "disease_prevention",
            "title": "Disease prevention",
            "required_at": FULL,
            "questions": [
                _q("flu_vaccine", "Flu vaccine this winter?", "choice", FULL, choices=YES_NO),
                _q("smoker", "Does the person smoke?", "choice", [], choices=YES_NO),
            ],
        },
        {
            "key": "personal_care",
            "title": "Personal care and physical well-being",
            "required_at": DEEP,
            "questions": [
                _q("washing", "Washing and bathing", "choice", DEEP, choices=NEED),
                _q("dressing", "Dressing", "choice", DEEP, choices=NEED),
                _q(
                    "falls_last_year",
                    "Falls in the last 12 months",
                    "number",
                    DEEP,
                    minimum=0,
                    maximum=100,
                ),
            ],
        },
        {
            "key": "senses",
            "title": "Senses",
            "required_at": FULL,
            "questions": [
                _q("sight", "Sight problems affecting daily life?", "choice", FULL, choices=YES_NO),
                _q(
                    "hearing",
                    "Hearing problems affecting daily life?",
                    "choice",
                    FULL,
                    choices=YES_NO,
                ),
            ],
        },
        {
            "key": "mental_health",
            "title": "Mental health",
            "required_at": DEEP,
            "questions": [
                _q("mood", "Low mood most days?", "choice", DEEP, choices=YES_NO),
                _q("memory_concerns", "Concerns about memory", "text", []),
            ],
        },
        {
            "key": "relationships",
            "title": "Relationships",
            "required_at": FULL,
            "questions": [
                _q("lives_with", "Who the person lives with", "text", FULL),
                _q("carer_support", "Does a carer help regularly?", "choice", FULL, choices=YES_NO),
            ],
        },
        {
            "key": "safety",
            "title": "Safety",
            "required_at": DEEP,
            "questions": [
                _q(
                    "feels_safe",
                    "Does the person feel safe at home?",
                    "choice",
                    DEEP,
                    choices=YES_NO,
                ),
                _q(
                    "safeguarding_concern",
                    "Any safeguarding concern?",
                    "choice",
                    DEEP,
                    choices=YES_NO,
                ),
            ],
        },
        {
            "key": "environment",
            "title": "Immediate environment and resources, including housing and finances",
            "required_at": FULL,
            "questions": [
                _q(
                    "housing",
                    "Kind of home",
                    "choice",
                    FULL,
                    choices=[
                        ["house", "House"],
                        ["flat", "Flat"],
                        ["bungalow", "Bungalow"],
                        ["sheltered", "Sheltered housing"],
                        ["care_home", "Care home"],
                    ],
                ),
                _q("stairs_inside", "Stairs inside the home?", "choice", FULL, choices=YES_NO),
                _q("money_worries", "Worries about money or benefits", "text", []),
            ],
        },
    ],
}

# The shared risk vocabulary: key, label, description.
RISK_TYPES = [
    ("falls", "Falls", "Falling, or fear of falling, at home or outside."),
    ("self_neglect", "Self-neglect", "Not looking after own hygiene, health or home."),
    ("safeguarding", "Safeguarding", "Abuse or neglect by someone else."),
    ("medication", "Medication", "Missed, wrong or unsafe use of medicines."),
    ("carer_breakdown", "Carer breakdown", "The main carer can no longer cope."),
    ("pressure_ulcers", "Pressure ulcers", "Skin damage from pressure or immobility."),
    ("nutrition", "Poor nutrition", "Not eating or drinking enough."),
    ("wandering", "Getting lost", "Leaving home and being unable to find the way back."),
    ("fire", "Fire at home", "Cooking, smoking or heaters left unattended."),
]


def publish_first_form_and_risks(apps: Any) -> None:
    """Publish the Calderbridge form v1 and the shared risk vocabulary, if missing: from
    migration 0002 (``apps`` its historical models) and from the demo seeding (the live
    registry), since a test run's flush empties the tables a data migration filled."""

    FormDefinition = apps.get_model("assessments", "FormDefinition")
    FormDomain = apps.get_model("assessments", "FormDomain")
    FormQuestion = apps.get_model("assessments", "FormQuestion")
    RiskType = apps.get_model("assessments", "RiskType")
    d = CALDERBRIDGE_V1
    if not FormDefinition.objects.filter(slug=d["slug"]).exists():
        form = FormDefinition.objects.create(
            slug=d["slug"], name=d["name"], version=1, amts_cutoff=d["amts_cutoff"]
        )
        for order, dom in enumerate(d["domains"], start=1):
            domain = FormDomain.objects.create(
                form=form,
                key=dom["key"],
                title=dom["title"],
                order=order,
                required_at=dom["required_at"],
            )
            for q_order, q in enumerate(dom["questions"], start=1):
                FormQuestion.objects.create(
                    domain=domain,
                    key=q["key"],
                    text=q["text"],
                    kind=q["kind"],
                    choices=q.get("choices", []),
                    minimum=q.get("minimum"),
                    maximum=q.get("maximum"),
                    past_only=q.get("past_only", False),
                    required_at=q["required_at"],
                    order=q_order,
                )
    for key, label, description in RISK_TYPES:
        RiskType.objects.get_or_create(
            key=key, defaults={"label": label, "description": description}
        )
