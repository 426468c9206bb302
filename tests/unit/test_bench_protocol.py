"""The tuning protocol's split helpers (bench/common.py): tuning and held-out sets never mix."""
import sys

from tests.conftest import ROOT, datasets_dir

sys.path.insert(0, str(ROOT / "bench"))
import common  # noqa: E402


def test_tuning_and_held_out_datasets_partition_the_shared_datasets():
    names = {p.parent.name for p in datasets_dir().glob("*/train.csv")}
    assert not set(common.TUNING_DATASETS) & set(common.HELD_OUT_DATASETS)
    assert set(common.TUNING_DATASETS) | set(common.HELD_OUT_DATASETS) == names
    for name in common.TUNING_DATASETS:  # decisions are made on official validation splits
        assert (datasets_dir() / name / "validation.csv").exists()


def test_a_validation_split_cut_from_train_leaves_the_pool():
    datasets_dir("cr", "sst2")  # skips with a reason (fails under SIEVE_REQUIRE_DATASETS=1) without them
    pool, evaluation, note = common.load_dataset("cr", "validation")
    assert "cut off" in note and not set(pool["text"]) & set(evaluation["text"])
    again, evaluation_again, _ = common.load_dataset("cr", "validation")
    assert evaluation_again["text"].tolist() == evaluation["text"].tolist()  # fixed seed
    small, test, note = common.load_dataset("sst2", "test", max_pool=500, max_eval=100)
    assert len(small) == 500 and len(test) == 100 and "subsampled" in note


def test_the_backup_benchmark_runs(tmp_path):
    """bench/backup.py once failed with a NameError before printing anything."""
    import os
    import subprocess

    result = subprocess.run([sys.executable, str(ROOT / "bench" / "backup.py"), "--texts", "200", "--labels", "20"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "SIEVE_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert "integrity_check ok; restored labels identical to the copy: True" in result.stdout
