"""Every paper row with a recorded layout, loaded through the stand-in Hub (as
tests/test_hub_rows.py does for two): full-size random checkpoints, so it takes tens of
minutes on two cores and runs only with OVERLAP_HUB_ALL_ROWS=1:

  OVERLAP_HUB_ALL_ROWS=1 JAX_PLATFORMS=cpu HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q -n 0 \\
      tests/test_hub_rows_all.py
"""

from __future__ import annotations

import os

import pytest

from test_hub_rows import FAST_ROWS, check_row_loads, layouts_by_row, timm_reference  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(os.environ.get("OVERLAP_HUB_ALL_ROWS") != "1",
                                reason="full-size rows: set OVERLAP_HUB_ALL_ROWS=1 (tens of minutes)")


@pytest.mark.parametrize("name", sorted(set(layouts_by_row()) - set(FAST_ROWS)))
def test_every_row_loads_from_the_stand_in_hub(name, tmp_path, timm_reference, monkeypatch):
  check_row_loads(name, layouts_by_row()[name], tmp_path, timm_reference, monkeypatch)
