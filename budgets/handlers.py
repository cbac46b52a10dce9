"""The domain events budgets subscribes to (contracts in ``caretrust.events.contracts``). Each
handler is a service call, run once per event by the outbox; the idempotency keys of the
journals it posts (the event id) make a second run post nothing even if it were."""

from __future__ import annotations

from budgets import services
from caretrust.events import contracts
from caretrust.events.models import OutboxEvent
from caretrust.events.services import handles


@handles(contracts.CARE_PACKAGE_AUTHORISED, name="budgets.commit_care_package")
def on_care_package_authorised(event: OutboxEvent) -> None:
    services.apply_care_package(event.payload, event_key=f"event:{event.event_id}")


@handles(contracts.CARE_PACKAGE_CHANGED, name="budgets.adjust_care_package")
def on_care_package_changed(event: OutboxEvent) -> None:
    services.apply_care_package(event.payload, event_key=f"event:{event.event_id}")


@handles(contracts.CARE_PACKAGE_ENDED, name="budgets.end_care_package")
def on_care_package_ended(event: OutboxEvent) -> None:
    services.end_care_package(event.payload, event_key=f"event:{event.event_id}")


@handles(contracts.DISCHARGE_DELAY_CHARGED, name="budgets.reimburse_delay")
def on_discharge_delay_charged(event: OutboxEvent) -> None:
    services.reimburse_delay(event.payload, event_key=f"event:{event.event_id}")
