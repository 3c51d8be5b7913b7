"""The second shard of tests/test_timm_family_parity.py's families (that file's docstring says what
is checked; it splits the families over its SHARDS files so that two pytest-xdist workers share them)."""

from test_timm_family_parity import exports, pytest_generate_tests, test_smallest_variant_matches_timm  # noqa: F401

SHARD = 1
