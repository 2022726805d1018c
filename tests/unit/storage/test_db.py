import pytest

from vault.crypto import keys
from vault.crypto.errors import WrongKey
from vault.storage import db


def test_file_opened_with_wrong_key_fails(tmp_path):
    path = tmp_path / "x.db"
    key = keys.random_key()
    conn = db.connect(path, key)
    with db.transaction(conn):
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES ('geheim-waarde')")
    conn.close()
    with pytest.raises(WrongKey):
        db.connect(path, keys.random_key())
    assert b"geheim-waarde" not in path.read_bytes()


def test_transaction_rolls_back_everything_on_error(tmp_path):
    conn = db.connect(tmp_path / "x.db", keys.random_key())
    with db.transaction(conn):
        conn.execute("CREATE TABLE t (v TEXT UNIQUE)")
    with pytest.raises(db.IntegrityError), db.transaction(conn):
        conn.execute("INSERT INTO t VALUES ('a')")
        conn.execute("INSERT INTO t VALUES ('a')")
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_backup_copies_a_live_database(tmp_path):
    key = keys.random_key()
    conn = db.connect(tmp_path / "live.db", key)
    with db.transaction(conn):
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES ('kept')")
    db.backup(conn, tmp_path / "copy.db", key)
    copy = db.connect(tmp_path / "copy.db", key)
    assert copy.execute("SELECT v FROM t").fetchone()[0] == "kept"
