"""A receiver down for a while (answering 503, then refusing connections, then back) gets
every event once it is back, each once, in order per aggregate."""

from __future__ import annotations

from caretrust.events import webhooks
from caretrust.events.models import DeliveryStatus, WebhookDelivery
from tests.events.conftest import announce, make_due, subscribe

AGGREGATES = ["p", "q", "r"]


def test_a_receiver_down_for_a_while_gets_everything_in_order_once_back(
    db, receiver, hospital_client
):
    subscribe(hospital_client, receiver.url)
    agency = hospital_client.agency
    receiver.answer(*[503] * 3)
    n = 0

    def emit_round() -> None:
        nonlocal n
        for aggregate in AGGREGATES:
            n += 1
            announce("test.happened", aggregate, agencies=[agency], n=n, aggregate=aggregate)

    emit_round()  # answered 503 (the first of each aggregate)
    webhooks.deliver_due()
    receiver.stop()  # now it refuses connections
    emit_round()
    for _ in range(3):
        make_due()
        assert webhooks.deliver_due() == 0
    emit_round()
    receiver.start()  # back, on the same port
    make_due()
    webhooks.deliver_due()

    assert not WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()
    delivered = [b["data"] for b in receiver.bodies()[3:]]  # after the three 503s
    assert sorted(d["n"] for d in delivered) == list(range(1, 10)), "lost or repeated"
    for aggregate in AGGREGATES:
        got = [d["n"] for d in delivered if d["aggregate"] == aggregate]
        assert got == sorted(got), f"{aggregate} out of order: {got}"
    attempts = WebhookDelivery.objects.get(event__payload__n=1).attempts.order_by("attempted_at")
    assert [a.status_code for a in attempts] == [503, None, None, None, 200]
