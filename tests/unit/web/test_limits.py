"""check_json_shape: nesting depth and member counts, counted outside strings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.web.limits import JsonTooDeep, JsonTooManyMembers, check_json_shape


def test_a_deep_array_is_refused_before_parsing():
    with pytest.raises(JsonTooDeep):
        check_json_shape("[" * 1000 + "]" * 1000)


def test_depth_at_the_bound_passes_and_one_more_fails():
    check_json_shape("[" * 32 + "]" * 32)
    with pytest.raises(JsonTooDeep):
        check_json_shape("[" * 33 + "]" * 33)


def test_brackets_and_quotes_inside_strings_do_not_count():
    text = json.dumps({"note": "[" * 500 + '\\" {{{ ' + "]" * 500, "list": [1, 2, 3]})
    check_json_shape(text)
    check_json_shape(text.encode())


def test_too_many_members_are_refused():
    check_json_shape("[" + ",".join(["0"] * 1000) + "]", max_members=1001)
    with pytest.raises(JsonTooManyMembers):
        check_json_shape("[" + ",".join(["0"] * 1000) + "]", max_members=500)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=30,
)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(json_values)
def test_the_depth_counted_is_the_real_depth(value):
    text = json.dumps(value)
    depth = _depth(value)
    check_json_shape(text, max_depth=max(depth, 1))
    if depth >= 1:
        with pytest.raises(JsonTooDeep):
            check_json_shape(text, max_depth=depth - 1)
