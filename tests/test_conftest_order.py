"""The slowest-first file order of tests/conftest.py comes from measured seconds (tests/durations.json)."""

import json

import conftest


def test_measured_files_run_longest_first_and_unmeasured_ones_before_them():
  durations = {"test_fast.py": 1.5, "test_slow.py": 200.0, "test_mid.py": 30.0}
  names = ["test_fast.py", "test_new.py", "test_mid.py", "test_slow.py", "test_newer.py"]
  assert conftest.slowest_first(names, durations) == [
      "test_new.py", "test_newer.py", "test_slow.py", "test_mid.py", "test_fast.py"]
  assert conftest.slowest_first(names, {}) == names  # no measurements: the collection order


def test_the_durations_file_is_read_as_seconds_per_file(tmp_path, monkeypatch):
  monkeypatch.setattr(conftest, "DURATIONS", tmp_path / "durations.json")
  assert conftest.file_durations() == {}            # absent: no reordering
  (tmp_path / "durations.json").write_text("not json")
  assert conftest.file_durations() == {}            # unreadable: no reordering, never a crash
  (tmp_path / "durations.json").write_text(json.dumps({"test_a.py": 12.5, "test_b.py": 3}))
  assert conftest.file_durations() == {"test_a.py": 12.5, "test_b.py": 3.0}
