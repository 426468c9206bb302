"""The Ray backend's pure parts, without starting Ray: model files as bytes, which errors count
as a lost node or actor (re-queued) and which are the job's own (failed and retried as usual)."""
import pytest

from core.jobs import ray_backend


def test_model_files_round_trip_and_stay_inside_their_directory(tmp_path):
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "config.json").write_text("{}")
    (source / "sub" / "weights.safetensors").write_bytes(b"\x00\x01")
    files = ray_backend.read_dir(source)
    assert files == {"config.json": b"{}", "sub/weights.safetensors": b"\x00\x01"}
    copy = ray_backend.write_dir(files, tmp_path / "copy")
    assert ray_backend.read_dir(copy) == files
    with pytest.raises(ValueError):
        ray_backend.write_dir({"../escape": b"x"}, tmp_path / "other")
    assert not (tmp_path / "escape").exists()


def test_lost_actors_and_nodes_are_told_from_the_jobs_own_errors():
    exceptions = pytest.importorskip("ray.exceptions")
    assert ray_backend._lost(exceptions.ActorDiedError())
    assert ray_backend._lost(exceptions.NodeDiedError("node gone"))
    assert ray_backend._lost(exceptions.WorkerCrashedError())
    wrapped = RuntimeError("Ray Data failed")
    wrapped.__cause__ = exceptions.ActorDiedError()
    assert ray_backend._lost(wrapped)
    assert not ray_backend._lost(ValueError("a bad setting"))
    with pytest.raises(ray_backend.RayLost, match="while embedding"):
        ray_backend._reraise_lost(exceptions.WorkerCrashedError(), "embedding")
    with pytest.raises(ValueError):
        ray_backend._reraise_lost(ValueError("a bad setting"), "embedding")


def test_not_configured_without_the_variable(monkeypatch):
    monkeypatch.delenv(ray_backend.ADDRESS_ENV, raising=False)
    assert not ray_backend.configured()
    monkeypatch.setenv(ray_backend.ADDRESS_ENV, "10.0.0.5:6379")
    assert ray_backend.configured() and ray_backend.address() == "10.0.0.5:6379"
