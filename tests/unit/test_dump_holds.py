"""tests/pgserver.dump_holds, which the pg_dump canary tests rely on: it finds a value in a
dump's text and inside bytea values, and hex digits alone never count as a find."""

from tests.pgserver import dump_holds

DUMP = (b"COPY public.t (name, b) FROM stdin;\n"
        b"Anna Jansen\t\\\\x68656c6c6f00ff\n"
        b"other\t\\\\x9a2025bc\n"
        b"\\.\n")


def test_a_value_in_text_or_in_a_bytea_is_found():
    assert dump_holds(DUMP, b"Anna Jansen")
    assert dump_holds(DUMP, b"hello")  # written as hex by pg_dump


def test_hex_digits_of_a_bytea_are_not_a_find():
    assert not dump_holds(DUMP, b"2025")  # the digits are in the hex, not in the bytes
    assert not dump_holds(DUMP, b"68656c")
