"""Atomic writes: an interrupted write leaves the previous file intact and no temporary file."""

import os
import stat

import pytest

from psychometrics.storage import atomic_write, atomic_write_bytes, atomic_write_text


def test_atomic_write_partial_content_never_visible(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old\n")

    def half_then_fail(handle):
        handle.write("new,partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["scores.csv"]
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    mask = os.umask(0)
    os.umask(mask)
    target.unlink()
    atomic_write_text(target, "fresh\n")
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask     # not mkstemp's private 0600


@pytest.mark.parametrize("when", ["write", "fsync", "replace"])
def test_failure_at_any_step_keeps_the_old_file(tmp_path, monkeypatch, when):
    target = tmp_path / "bank.json"
    target.write_text('{"old": true}\n')

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if when == "write":
        def write(handle):
            handle.write('{"new": ')
            fail()
        call = lambda: atomic_write(target, write)  # noqa: E731
    else:
        monkeypatch.setattr(os, when, fail)
        call = lambda: atomic_write_text(target, '{"new": true}\n')  # noqa: E731
    with pytest.raises(OSError, match="No space left"):
        call()
    monkeypatch.undo()
    assert target.read_text() == '{"old": true}\n'
    assert sorted(os.listdir(tmp_path)) == ["bank.json"]


def test_existing_mode_is_kept(tmp_path):
    target = tmp_path / "instrument.yaml"
    target.write_text("old\n")
    target.chmod(0o640)
    atomic_write_text(target, "new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text() == "new\n"


def test_bytes_and_text_are_written_exactly(tmp_path):
    data = bytes(range(256))
    assert atomic_write_bytes(tmp_path / "blob.bin", data) == tmp_path / "blob.bin"
    assert (tmp_path / "blob.bin").read_bytes() == data
    # UTF-8, and newlines are not translated
    atomic_write_text(str(tmp_path / "t.txt"), "caf\u00e9\r\nline\n")
    assert (tmp_path / "t.txt").read_bytes() == "caf\u00e9\r\nline\n".encode("utf-8")


def test_csv_through_a_callback(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"theta": [0.5, -1.25]}, index=pd.Index(["r1", "r2"], name="id"))
    atomic_write(tmp_path / "scores.csv", lambda handle: frame.to_csv(handle))
    back = pd.read_csv(tmp_path / "scores.csv", index_col="id")
    pd.testing.assert_frame_equal(back, frame)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write_text(tmp_path / "absent" / "x.txt", "x")
