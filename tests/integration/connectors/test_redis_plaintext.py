"""Redis never holds a record value in plain text, during or after a refresh."""

from __future__ import annotations

import redis as redis_lib

from tests.integration.connectors.conftest import add_connection, records, wait_state
from tests.standins.fixtures import API_KEY, BRP_BSN, WOZ_ID

# Values from the BRP test person and the WOZ object that end up in the vault.
SECRETS = [BRP_BSN, "Tina-Ant", "Croeselaan", "3521BJ", "3521 BJ", "900194030", "Tester",
           "Sweelinck", "19500000", "195000", API_KEY]


def everything_in(client: redis_lib.Redis) -> bytes:
    """Every key with its DUMP and its readable value (DUMP may compress long strings)."""
    out = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        dumped = client.dump(key)
        if dumped:
            out.append(dumped)
        kind = client.type(key).decode()
        if kind == "string":
            out.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                out.extend([field, value])
        elif kind == "list":
            out.extend(client.lrange(key, 0, -1))
        elif kind == "set":
            out.extend(client.smembers(key))
        elif kind == "zset":
            out.extend(client.zrange(key, 0, -1))
        elif kind == "stream":
            for _id, fields in client.xrange(key):
                for field, value in fields.items():
                    out.extend([field, value])
    return b"\n".join(out)


def test_no_record_value_in_redis_after_refresh(make_owner, start_worker, brp_standin,
                                                woz_standin, redis_client):
    owner = make_owner()
    start_worker()
    brp = add_connection(owner, "brp", {"base_url": brp_standin.base_url, "bsn": BRP_BSN},
                         {"api_key": API_KEY})
    woz = add_connection(owner, "woz", {"base_url": woz_standin.base_url,
                                        "identificatie": WOZ_ID}, {"api_key": API_KEY})
    wait_state(owner, brp["id"], {"ok"})
    wait_state(owner, woz["id"], {"ok"})
    before_merge = everything_in(redis_client)
    found = records(owner)
    assert len(found) == 6
    after_merge = everything_in(redis_client)
    assert b"rq:job:" in before_merge  # the scan really saw the jobs
    for dump in (before_merge, after_merge):
        for secret in SECRETS:
            assert secret.encode() not in dump, secret
