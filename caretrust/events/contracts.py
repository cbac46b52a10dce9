"""The events that cross from one domain app to another: their types and payloads.

The apps never import each other; this is what they agree on instead. A payload holds ids,
dates (ISO 8601 strings) and amounts (integer pence), never names or other people's data.
Partner webhooks carry the same payloads.
"""

from __future__ import annotations

# --- assessments -> budgets ------------------------------------------------------------------
# A care plan's package authorised (or re-authorised after a change, or ended).
#
# care_package.authorised and care_package.changed carry the package as it now stands:
#   {"care_plan_id": str (uuid), "version": int,
#    "case_file_id": str (uuid), "person_id": str (uuid), "agency_id": int (holding agency),
#    "authorised_by": int (user id), "authorised_on": "YYYY-MM-DD",
#    "weekly_cost_pence": int (all services),
#    "services": [{"service_id": str, "kind": str (e.g. "home_care"),
#                  "funding": "nhs" | "social_care", "provider_agency_id": int | None,
#                  "hours_per_week": str (decimal) | None, "cost_per_hour_pence": int | None,
#                  "weekly_cost_pence": int, "start_date": "YYYY-MM-DD",
#                  "end_date": "YYYY-MM-DD" | None}]}
# care_package.ended: {"care_plan_id": str, "version": int, "ended_on": "YYYY-MM-DD"}
# The aggregate is ("care_plan", care_plan_id): budgets sees them in that order.
CARE_PACKAGE_AUTHORISED = "care_package.authorised"
CARE_PACKAGE_CHANGED = "care_package.changed"
CARE_PACKAGE_ENDED = "care_package.ended"

# --- referrals -> budgets --------------------------------------------------------------------
# Where an area has switched on the 2003 Act regime by local agreement: the council's per-day
# reimbursement of the NHS for a delayed discharge, for a run of days.
#   {"discharge_id": str, "person_id": str, "council_agency_id": int,
#    "hospital_agency_id": int, "date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD",
#    "days": int, "rate_pence": int, "amount_pence": int}
# The aggregate is ("hospital_discharge", discharge_id).
DISCHARGE_DELAY_CHARGED = "discharge.delay_charged"

# --- referrals -> assessments ----------------------------------------------------------------
# A short-term episode handed over to a mainstream service of another agency, carrying the
# signed assessment the receiving service may adopt instead of assessing again.
#   {"referral_id": str, "from_referral_id": str, "assessment_id": str | None,
#    "person_id": str, "receiving_agency_id": int, "receiving_service_id": str}
# The aggregate is ("referral", referral_id).
REFERRAL_HANDED_OVER = "referral.handed_over"
