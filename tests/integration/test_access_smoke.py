async def test_admin_can_read_me_and_roles(stack):
    r = await stack.http.get("/api/v1/me")
    assert r.status_code == 200, r.text
    assert r.json()["user"]["email"] == "admin@lana.local"
    assert r.json()["role"]["name"] == "superuser"
    r = await stack.http.get("/api/v1/roles", params={"sort": "name", "direction": "asc"})
    assert [x["name"] for x in r.json()["items"]] == ["accountant", "admin", "bank-manager", "superuser"]
