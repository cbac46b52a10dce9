"""Demo partner systems: documented credentials for trying the API (demo data only)."""

from __future__ import annotations

from caretrust.api.models import SCOPES, PartnerClient
from caretrust.api.services import create_partner_client
from caretrust.directory.models import Agency

DEMO_CLIENTS = [
    (
        "calderbridge-hospitals",
        "Calderbridge Royal PAS (demo)",
        "calderbridge-pas-demo",
        list(SCOPES),
    ),
    (
        "calderbridge-council",
        "Council case system (demo)",
        "calderbridge-council-demo",
        ["persons:read", "casefiles:read", "sharing:read"],
    ),
]
DEMO_CLIENT_SECRET = "caretrust-demo-partner-secret"  # noqa: S105 - documented demo only


def seed_partner_clients() -> dict[str, int]:
    made = 0
    for slug, name, client_id, scopes in DEMO_CLIENTS:
        if PartnerClient.objects.filter(application__client_id=client_id).exists():
            continue
        create_partner_client(
            agency=Agency.objects.get(slug=slug),
            name=name,
            scopes=scopes,
            client_id=client_id,
            client_secret=DEMO_CLIENT_SECRET,
        )
        made += 1
    return {"partner clients": made} if made else {}
