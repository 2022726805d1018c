"""The instance's data in PostgreSQL shared by two nodes: a revoke answered by one ends the
other's reads at their very next request (issue 18, item 4).

Node 1 is the app of the test (werkzeug, in this process); node 2 is a ``kluis serve``
process (gunicorn) with its own KLUIS_HOME and only the instance key and KLUIS_DATABASE_URL in
common, so it shares no memory (grant handles, vault mirrors) with node 1.
"""

from __future__ import annotations

import dataclasses

import pytest
import requests

from bench.procs import Stack, free_port, kluis_command, wait_for_http
from tests.integration.readers import reads_around
from vault.storage.instance import Instance, init_home, read_instance_key


@pytest.fixture
def settings(make_settings, postgres_database):
    return make_settings(database_url=postgres_database())


def test_a_revoke_on_one_node_ends_reads_on_the_other(settings, live_server, granted, tmp_path):
    owner, _org, token = granted()
    key = read_instance_key(settings).hex()
    node2 = dataclasses.replace(settings, home=str(tmp_path / "node2"), instance_key=key,
                                web_workers=2)
    init_home(node2)
    assert not (tmp_path / "node2" / "instance.db").exists()  # nothing local to this node
    port = free_port()
    with Stack() as stack:
        proc = stack.popen(kluis_command() + ["serve", "--bind", f"127.0.0.1:{port}"],
                           env=node2.to_env(), log=tmp_path / "node2.log")
        wait_for_http(port, "/healthz", proc=proc)
        url = f"http://127.0.0.1:{port}/api/v1/grant/records"
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        first = requests.get(url, headers=headers, timeout=30)
        assert first.status_code == 200, first.text  # node 2 knows the grant node 1 made
        resp, reads = reads_around(  # the revoke on node 1, the reads on node 2
            url, headers, lambda: owner.delete(f"/api/v1/grants/{token['grant_id']}"))
        assert resp.status_code == 200 and resp.json()["status"] == "revoked"
    assert reads.errors == []
    assert 200 in reads.before
    assert reads.after and set(reads.after) == {401}


def test_two_instances_on_one_database_see_each_others_slots_and_epoch(settings, tmp_path):
    key = read_instance_key(settings).hex()
    other = dataclasses.replace(settings, home=str(tmp_path / "other"), instance_key=key)
    init_home(other)
    one, two = Instance(settings), Instance(other)
    try:
        before = two.generation()
        assert two.generation() == before  # nothing changed: the same value
        with one.transaction() as tx:
            one.add_vault(tx, "v1", "alice", b"public")
        assert two.vault_by_username("alice") == "v1"
        item = one.deliver("v1", "test", b"sealed")
        assert two.generation() != before  # a new inbox item moves the epoch
        assert [i[0] for i in two.inbox("v1")] == [item]
        with two.transaction() as tx:
            tx.execute("DELETE FROM inbox_items WHERE vault_id = ?", ("v1",))
        assert one.inbox("v1") == []
        moved = two.generation()
        with one.transaction() as tx:  # the vault goes, its key slots with it
            tx.execute("DELETE FROM vaults WHERE id = ?", ("v1",))
        assert two.generation() != moved
        assert two.vault_by_username("alice") is None
    finally:
        one.close()
        two.close()
