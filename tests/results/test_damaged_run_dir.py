"""A run directory damaged from outside never loads as silently wrong data: RunDirError names the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytorch_hyperlight import RunDirError, files, load_run
from pytorch_hyperlight.results import run_dir as run_dirs
from tests.results_fakes import write_run_dir


def _cut_mid_line(file: Path) -> None:
    data = file.read_bytes()
    lines = data.splitlines(keepends=True)
    kept = b"".join(lines[: len(lines) * 6 // 10])
    file.write_bytes(kept + lines[len(lines) * 6 // 10][:5])


def _halve(file: Path) -> None:
    lines = file.read_bytes().splitlines(keepends=True)
    file.write_bytes(b"".join(lines[: len(lines) // 2]))


def _empty(file: Path) -> None:
    file.write_bytes(b"")


def _binary_garbage(file: Path) -> None:
    file.write_bytes(bytes(range(256)) * 4)


def _invalid_json(file: Path) -> None:
    file.write_text('[{"trial_id": "a", ', encoding="utf-8")


def _delete(file: Path) -> None:
    file.unlink()


DAMAGES: dict[str, Callable[[Path], None]] = {
    "cut_mid_line": _cut_mid_line,
    "halved": _halve,
    "empty": _empty,
    "binary_garbage": _binary_garbage,
    "deleted": _delete,
}
DATA_FILES = (run_dirs.METRICS_FILE, run_dirs.TRIALS_FILE, run_dirs.TRIAL_METRICS_FILE)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("name", DATA_FILES)
def test_a_damaged_data_file_raises_run_dir_error_naming_it(tmp_path, name, damage):
    write_run_dir(tmp_path / "run")
    DAMAGES[damage](tmp_path / "run" / name)
    with pytest.raises(RunDirError, match=name) as caught:
        load_run(tmp_path / "run")
    assert "re-run" in str(caught.value).lower() or "resume" in str(caught.value)


@pytest.mark.parametrize("damage", ["invalid_json", "empty", "binary_garbage", "deleted"])
def test_a_damaged_errors_json_raises_run_dir_error_naming_it(tmp_path, damage):
    write_run_dir(tmp_path / "run")
    DAMAGES.get(damage, _invalid_json)(tmp_path / "run" / run_dirs.ERRORS_FILE)
    with pytest.raises(RunDirError, match=run_dirs.ERRORS_FILE):
        load_run(tmp_path / "run")


@pytest.mark.parametrize("damage", ["invalid_json", "empty", "binary_garbage", "halved"])
def test_a_damaged_run_json_raises_run_dir_error_naming_it(tmp_path, damage):
    write_run_dir(tmp_path / "run")
    DAMAGES.get(damage, _invalid_json)(tmp_path / "run" / run_dirs.RUN_FILE)
    with pytest.raises(RunDirError, match=run_dirs.RUN_FILE):
        load_run(tmp_path / "run")


def test_metrics_cut_mid_line_reports_the_rows_found_and_the_rows_written(tmp_path):
    write_run_dir(tmp_path / "run", kind="single_trial")
    file = tmp_path / "run" / run_dirs.METRICS_FILE
    written = run_dirs.file_record(file)["rows"]
    _cut_mid_line(file)
    with pytest.raises(RunDirError) as caught:
        load_run(tmp_path / "run")
    message = str(caught.value)
    assert f"the run wrote {written} rows" in message
    assert f"holds {run_dirs.count_rows(file.name, file.read_bytes())} rows" in message


def test_an_edited_value_with_the_same_row_count_is_still_caught(tmp_path):
    write_run_dir(tmp_path / "run")
    file = tmp_path / "run" / run_dirs.TRIALS_FILE
    file.write_bytes(file.read_bytes().replace(b"done", b"dune", 1))
    with pytest.raises(RunDirError, match="not the file the run wrote"):
        load_run(tmp_path / "run")


def test_run_json_records_rows_and_checksums_of_every_data_file(tmp_path):
    written = write_run_dir(tmp_path / "run")
    info = files.read_json(tmp_path / "run" / run_dirs.RUN_FILE)
    assert set(info["files"]) == {*DATA_FILES, run_dirs.ERRORS_FILE}
    assert info["files"][run_dirs.TRIALS_FILE]["rows"] == len(written["trials"])
    assert info["files"][run_dirs.METRICS_FILE]["rows"] == len(written["metrics"].df)
    assert info["files"][run_dirs.ERRORS_FILE]["rows"] == len(written["errors"])
    assert all(len(record["sha256"]) == 64 for record in info["files"].values())


def test_an_undamaged_run_dir_loads_with_the_data_it_wrote(tmp_path):
    written = write_run_dir(tmp_path / "run")
    loaded = load_run(tmp_path / "run")
    assert len(loaded["trials"]) == len(written["trials"])
    assert len(loaded["metrics"].df) == len(written["metrics"].df)


def test_an_old_run_dir_without_the_record_loads_unverified(tmp_path):
    written = write_run_dir(tmp_path / "run", record_files=False)
    file = tmp_path / "run" / run_dirs.TRIALS_FILE
    _halve(file)  # nothing to check it against: the shorter table loads
    loaded = load_run(tmp_path / "run")
    assert 0 < len(loaded["trials"]) < len(written["trials"])


@pytest.mark.parametrize("damage", ["empty", "binary_garbage"])
@pytest.mark.parametrize("name", DATA_FILES)
def test_an_old_run_dir_with_an_unparsable_file_raises_run_dir_error(tmp_path, name, damage):
    write_run_dir(tmp_path / "run", record_files=False)
    DAMAGES[damage](tmp_path / "run" / name)
    with pytest.raises(RunDirError, match=name):
        load_run(tmp_path / "run")


def test_atomic_writes_leave_no_temporary_file_and_keep_the_old_file_on_failure(tmp_path):
    target = tmp_path / "data.bin"
    files.write_bytes_atomic(target, b"old")

    def fail(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.write_stream_atomic(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_atomic_writes_fsync_the_file_and_then_its_directory(tmp_path, monkeypatch):
    import os

    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    files.write_text_atomic(tmp_path / "a.txt", "x")
    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".a.txt.")  # the temporary file, before the rename
    assert Path(synced[1]) == tmp_path


def test_copy_file_atomic_copies_bytes_exactly(tmp_path):
    source = tmp_path / "source.ckpt"
    source.write_bytes(bytes(range(256)) * 1000)
    files.copy_file_atomic(source, tmp_path / "out" / "best.ckpt")
    assert (tmp_path / "out" / "best.ckpt").read_bytes() == source.read_bytes()
