"""Lists are capped and paged with an opaque cursor: records and the event log."""

from __future__ import annotations

INCOME = {"source": "ACME BV", "kind": "employment", "gross_amount_cents": 5_400_000}


def _pages(owner, path: str, key: str, **params):
    seen, cursor, pages = [], None, 0
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        resp = owner.get(path, params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen.extend(body[key])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 50


def test_records_come_in_pages_that_add_up_to_all_of_them(make_owner):
    owner = make_owner()
    made = [owner.post("/api/v1/records", json={"type": "income",
                                                "data": dict(INCOME, year=2000 + i)}).json()["id"]
            for i in range(5)]
    seen, pages = _pages(owner, "/api/v1/records", "records", limit=2)
    assert [r["id"] for r in seen] == made  # oldest first, none twice, none missing
    assert pages == 3
    assert owner.get("/api/v1/records").json()["next_cursor"] is None


def test_a_record_added_between_pages_is_not_lost(make_owner):
    owner = make_owner()
    for i in range(3):
        owner.post("/api/v1/records", json={"type": "income", "data": dict(INCOME, year=2000 + i)})
    first = owner.get("/api/v1/records", params={"limit": 2}).json()
    late = owner.post("/api/v1/records", json={"type": "income",
                                               "data": dict(INCOME, year=2030)}).json()["id"]
    rest = owner.get("/api/v1/records", params={"limit": 10, "cursor": first["next_cursor"]})
    assert late in [r["id"] for r in rest.json()["records"]]
    assert len(first["records"]) + len(rest.json()["records"]) == 4


def test_the_event_log_pages_backwards_with_a_cursor(make_owner):
    owner = make_owner()
    for i in range(4):
        owner.post("/api/v1/records", json={"type": "income", "data": dict(INCOME, year=2000 + i)})
    everything = owner.get("/api/v1/events", params={"limit": 1000}).json()["events"]
    seen, pages = _pages(owner, "/api/v1/events", "events", limit=2)
    assert [e["seq"] for e in seen] == [e["seq"] for e in everything]
    assert pages == (len(everything) + 1) // 2
    access, _ = _pages(owner, "/api/v1/access-log", "events", limit=3)
    assert [e["seq"] for e in access] == [e["seq"] for e in everything]


def test_a_cursor_that_did_not_come_from_the_list_is_a_422(make_owner):
    owner = make_owner()
    wrong_kind = {"/api/v1/records": "WzFd",  # [1]: an event cursor
                  "/api/v1/events": "WyJhIiwiYiJd",  # ["a","b"]: a record cursor
                  "/api/v1/access-log": "WyJhIiwiYiJd"}
    for path, other in wrong_kind.items():
        for cursor in ("nonsense", "e30", other):  # e30: {}
            resp = owner.get(path, params={"cursor": cursor})
            assert resp.status_code == 422, (path, cursor, resp.text)
            assert "cursor" in resp.json()["errors"]
    assert owner.get("/api/v1/records", params={"limit": 5000}).status_code == 422


def test_short_owner_lists_page_too(make_owner):
    owner = make_owner()
    for i in range(3):
        assert owner.post("/api/v1/tokens", json={"username": owner.username,
                                                  "password": owner.password,
                                                  "name": f"t{i}"}).status_code == 201
    record = owner.post("/api/v1/records", json={"type": "income",
                                                 "data": dict(INCOME, year=2020)}).json()["id"]
    for cents in (1, 2, 3):
        owner.put(f"/api/v1/records/{record}", json={"data": dict(INCOME, year=2020,
                                                                  gross_amount_cents=cents)})
    tokens, pages = _pages(owner, "/api/v1/tokens", "tokens", limit=2)
    assert len(tokens) == 4 and pages == 2  # the fixture's token and three more
    assert len({t["id"] for t in tokens}) == 4
    versions, pages = _pages(owner, f"/api/v1/records/{record}/versions", "versions", limit=3)
    assert [v["version"] for v in versions] == [4, 3, 2, 1] and pages == 2
    for path in ("/api/v1/grants", "/api/v1/requests", "/api/v1/notifications"):
        body = owner.get(path, params={"limit": 1}).json()
        assert "next_cursor" in body, path
    assert owner.get("/api/v1/tokens", params={"limit": 501}).status_code == 422
    assert owner.get("/api/v1/grants", params={"cursor": "WyJhIl0"}).status_code == 422
