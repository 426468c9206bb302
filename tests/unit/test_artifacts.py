import os
import socket
import subprocess

import numpy as np
import pytest

from core import artifacts


def test_atomic_dir_appears_whole_or_not_at_all(tmp_path):
    with artifacts.atomic_dir(tmp_path, "v") as (tmp, final):
        artifacts.save_npy(tmp / "a.npy", np.arange(3))
        assert not final.exists()
    assert np.load(final / "a.npy").tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError):
        with artifacts.atomic_dir(tmp_path, "v") as (tmp, final):
            artifacts.save_npy(tmp / "a.npy", np.arange(3))
            raise RuntimeError("crash while writing")
    assert not final.exists() and not list(tmp_path.glob(".tmp-*"))


def test_sweep_removes_only_dead_writers_on_this_host(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    root = tmp_path / "projects"
    left = root / "1" / "versions" / f".tmp-{host}-{dead.pid}-v-abc"
    live = root / "1" / "versions" / f".tmp-{host}-{os.getpid()}-v-def"
    other_host = root / "1" / "versions" / f".tmp-elsewhere-{dead.pid}-v-ghi"
    for directory in (left, live, other_host):
        directory.mkdir(parents=True)
    assert artifacts.sweep_temporary(root) == 1
    assert not left.exists() and live.exists() and other_host.exists()
