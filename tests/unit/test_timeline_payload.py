"""The timeline's payload rule: ids out (``id``/``*_id`` keys, UUID strings), everything else kept."""

from api.timelines import strip_ids


def test_ids_are_stripped_at_every_depth_and_nothing_else():
    payload = {"id": "x", "customer_id": "c", "amount_cents": 100, "actor": "user:8f5e3c1a-0000-4000-8000-000000000001",
               "account": "0b0e8c3c-5b8e-4f0a-9a4e-0f6f2f1b9d11", "terms": {"annual_rate": "12", "template_id": "t"},
               "list": ["0b0e8c3c-5b8e-4f0a-9a4e-0f6f2f1b9d11", "kept", 3], "status": "ACTIVE", "paid": None}
    assert strip_ids(payload) == {"amount_cents": 100, "actor": "user:8f5e3c1a-0000-4000-8000-000000000001",
                                  "terms": {"annual_rate": "12"}, "list": ["kept", 3], "status": "ACTIVE",
                                  "paid": None}
