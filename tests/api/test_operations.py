"""Operations: health, readiness, metrics, request ids and JSON log lines."""

from __future__ import annotations

import json
import logging

from app.logs import REQUEST_ID, JsonLines
from tests.support import Api, problem


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_every_response_carries_a_request_id(api: Api) -> None:
    given = await api.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"
    made = await api.get("/v1/people")
    assert len(made.headers["x-request-id"]) == 32
    error = await api.get("/v1/assignments/not-a-uuid")
    problem(error, 422)
    assert error.headers["x-request-id"]
    odd = await api.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert odd.headers["x-request-id"] != "bad id with spaces", "an unusable incoming id is replaced"


async def test_metrics_count_requests_by_route_template(api: Api) -> None:
    person = await api.person()
    await api.get(f"/v1/people/{person['id']}")
    await api.get("/v1/people/01a20f43-0000-7000-8000-000000000000")
    text = (await api.get("/metrics")).text
    assert 'stint_http_requests_total{method="GET",route="/v1/people/{person_id}",status="200"} 1.0' in text
    assert 'stint_http_requests_total{method="GET",route="/v1/people/{person_id}",status="404"} 1.0' in text
    for gauge in ("stint_webhook_outbox_backlog", "stint_sweeper_lag_seconds", "stint_db_pool_connections_in_use"):
        assert gauge in text


def test_log_lines_are_json_with_the_request_id() -> None:
    token = REQUEST_ID.set("req-1")
    try:
        record = logging.LogRecord("stint.worker", logging.INFO, __file__, 1, json.dumps({"msg": "sweep tick", "claimed": 3}), None, None)
        line = json.loads(JsonLines().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line == {"level": "info", "logger": "stint.worker", "msg": "sweep tick", "claimed": 3, "request_id": "req-1"}
