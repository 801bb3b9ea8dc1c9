async def test_health_and_readiness(stack):
    for path in ("/healthz", "/health"):  # /health: the spec's name (api-surface §16)
        r = await stack.http.get(path)
        assert r.status_code == 200 and r.json() == {"status": "ok"}, path
    r = await stack.http.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "temporal": "ok"}


async def test_unknown_route_is_problem_json(stack):
    r = await stack.http.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "common.not_found" and body["status"] == 404
    assert r.headers["x-request-id"] == body["request_id"]
