"""Token records written by many requests at once, over two worker processes (and, with
COFFER_TEST_META=postgresql, on PostgreSQL): every issued token is recorded and every revocation
sticks, although all of them change the same user's props."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from browser_support import ApiClient

ISSUES, THREADS = 60, 12


def _client(srv) -> ApiClient:
    api = ApiClient(srv.endpoint)
    api.login(srv.access_key, srv.secret_key)
    return api


def test_concurrent_issues_and_revocations_lose_nothing(server_factory):
    srv = server_factory(workers=2)
    clients = [_client(srv) for _ in range(THREADS)]
    user = clients[0].request("GET", "tokens")[1]["tokens"][0]["user"]  # the login's own session token

    def issue(i: int) -> str:
        status, doc = clients[i % THREADS].request("POST", "tokens", {"user": user, "expires_in": 3600})
        assert status == 200, doc
        return doc["id"]

    def revoke(i: int, token_id: str) -> None:
        status, doc = clients[i % THREADS].request("DELETE", "tokens", query=f"id={token_id}")
        assert status == 200 and doc["revoked"], doc

    with ThreadPoolExecutor(THREADS) as pool:
        first = list(pool.map(issue, range(ISSUES)))
        # revoke half of them while as many new ones are issued
        revoking = [pool.submit(revoke, i, t) for i, t in enumerate(first[::2])]
        second = list(pool.map(issue, range(ISSUES // 2)))
        for f in revoking:
            f.result()
    status, doc = clients[0].request("GET", "tokens", query=f"user={user}")
    assert status == 200
    listed = {t["id"]: t["revoked"] for t in doc["tokens"]}
    assert set(first) | set(second) <= set(listed), "issued tokens missing from the records"
    assert [t for t in first[::2] if not listed[t]] == [], "revocations lost"
    assert [t for t in first[1::2] + second if listed[t]] == []
