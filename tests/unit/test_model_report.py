"""The Model page's rows (core.versions.model_report): label timeline, versions table."""
import numpy as np

from core import store
from core.labeling import annotate
from core.team import auth
from core.versions import model_report
from tests.unit.test_registry import fake_version, label_eval, two_versions  # noqa: F401 (fixture)


def test_label_timeline_counts_each_class_as_labels_arrive(db, two_versions):
    pid = two_versions[0]
    pool = store.example_ids(db, pid, store.Split.POOL)
    for example_id, label in zip(pool[:4], ["yes", "no", "yes", "yes"]):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)
    rows = model_report.label_timeline(db, pid)
    last = max(r["time"] for r in rows)
    assert {r["class"]: r["labels"] for r in rows if r["time"] == last} == {"yes": 3, "no": 1}
    assert min(r["labels"] for r in rows if r["class"] == "yes") >= 0




def test_versions_table_says_when_the_newest_label_was_given(db, two_versions):
    pid, ids, first, second = two_versions
    label_eval(db, pid, ["yes"])
    third = fake_version(db, pid, store.latest_encoder(db, pid)["id"], ids, np.zeros(len(ids), int), queue=[])
    versions = store.versions(db, pid)
    rows = model_report.version_rows(versions, third, label_times=model_report.newest_label_times(db, versions))
    assert rows[0]["version"] == store.version(db, third)["number"] and rows[0]["newest label"] != "–"
    assert rows[0]["served"] == "yes" and {r["served"] for r in rows[1:]} == {""}  # words, not an emoji
    assert rows[-1]["newest label"] == "–"  # published before any label
    assert not any("annotation" in str(value) for row in rows for value in row.values())


