"""Tests of psychometrics/_compiled.py: the cache folder of the compiled kernels and the
blocks they run in."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from psychometrics import _compiled


def test_numba_cache_dir_set_by_the_user_wins(monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere")
    monkeypatch.setattr(_compiled, "_writable", lambda folder: False)
    assert _compiled._choose_cache_dir() is None


def test_numba_default_places_are_kept_when_writable(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(_compiled, "_writable", lambda folder: True)
    assert _compiled._choose_cache_dir() is None


def test_read_only_package_and_home_fall_back_to_a_private_temporary_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    writable_before = _compiled._writable
    # only the temporary folder can be written
    monkeypatch.setattr(_compiled, "_writable",
                        lambda folder: str(folder).startswith(str(tmp_path)) and writable_before(folder))
    chosen = _compiled._choose_cache_dir()
    assert chosen is not None and Path(chosen).parent == tmp_path and Path(chosen).is_dir()


def test_writable_probe_reports_a_read_only_folder(tmp_path):
    assert _compiled._writable(tmp_path / "new" / "folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        # root may write anywhere; the probe must then agree with reality
        expected = True
        try:
            (locked / "x").write_bytes(b"")
        except OSError:
            expected = False
        assert _compiled._writable(locked) is expected
    finally:
        locked.chmod(0o700)


def test_blocks_cover_the_range_in_order():
    assert _compiled.block_bounds(10, 3) == [(0, 4), (4, 8), (8, 10)]
    assert _compiled.block_bounds(2, 8) == [(0, 1), (1, 2)]
    values = np.arange(1000.0)
    sums = _compiled.run_blocks(lambda a, b: values[a:b].sum(), _compiled.block_bounds(1000, 7))
    assert sum(sums) == values.sum() and len(sums) == 7


def test_a_forked_child_runs_blocks_on_its_own_threads():
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return
    _compiled.run_blocks(lambda a, b: b - a, _compiled.block_bounds(10, 2))  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.apply(_blocks_in_child) == 10


def _blocks_in_child() -> int:
    return sum(_compiled.run_blocks(lambda a, b: b - a, _compiled.block_bounds(10, 2)))
