"""The eval sample as it is served (issue 20, item 1): the labeled eval texts must be a uniform
random sample of the eval sample at every point, or the eval estimate is not the unbiased
figure the Model page says it is."""
import numpy as np
import pandas as pd
from scipy import stats

from core import store
from core.labeling import annotate
from core.team import auth
from tests.conftest import dataset, make_project


def serve_eval(db, pid, n, annotators=("ann",), label=lambda shown: "yes"):
    """Label the first `n` eval texts served (annotators take turns); their ids in serving order."""
    served = []
    for k in range(n):
        actor = auth.local_actor(annotators[k % len(annotators)])
        shown = annotate.next_text(db, actor, pid, store.Split.EVAL)
        if shown is None:
            break
        assert shown.split == store.Split.EVAL
        served.append(shown.example_id)
        annotate.submit_label(db, actor, pid, shown, label(shown))
    return served


def test_eval_texts_are_served_in_the_projects_fixed_shuffle(db):
    """Whoever labels, and however claims interleave, the labeled eval texts are the head of one
    fixed shuffle (so at any point they are a simple random sample of the eval sample)."""
    pid = make_project(db, [f"text number {i} " + "x" * i for i in range(120)], eval_fraction=0.34)
    eval_ids = store.example_ids(db, pid, store.Split.EVAL)
    order = sorted(eval_ids, key=lambda i: store.eval_order_key(pid, i))
    served = serve_eval(db, pid, 25, annotators=("alice", "bob", "carol"))
    assert served == order[:25]
    # an undone eval label puts its text back where it was in the shuffle
    annotate.undo_last(db, auth.local_actor("alice"), pid)  # alice gave the 25th
    store.release_leases(db.conn, pid, "alice")
    assert store.eval_in_order(db, pid)[0] == served[-1]


def test_the_eval_shuffle_is_uniform_and_ignores_the_texts():
    """Over many projects, each of 40 eval texts is equally likely at every place in the order,
    and its place does not follow its id (ids follow the file's row order, which is often sorted
    by label or by source)."""
    ids = np.arange(1000, 1040)
    first_ten = np.zeros(len(ids))
    correlations = []
    for pid in range(1, 2001):
        keys = np.array([store.eval_order_key(pid, int(i)) for i in ids])
        ranks = keys.argsort().argsort()
        first_ten += ranks < 10
        correlations.append(stats.spearmanr(ids, ranks)[0])
    # each text is among the first ten in 2000 * 10/40 = 500 projects, give or take binomial noise
    assert stats.chisquare(first_ten).pvalue > 0.001
    assert abs(np.mean(correlations)) < 0.02


def test_the_first_eval_texts_served_are_like_the_eval_sample(db):
    """On a real dataset whose file is sorted by label (movie reviews: positives first), the
    first 25 eval texts served look like the whole eval sample in length and class mix."""
    frame = dataset("mr")
    pid = make_project(db, frame[["text"]], classes=("positive", "negative"), eval_fraction=0.05)
    gold = dict(zip(frame.text, frame.label))
    sample = store.texts_by_id(db, store.example_ids(db, pid, store.Split.EVAL))
    served = serve_eval(db, pid, 25, label=lambda shown: gold[shown.text])
    lengths = pd.Series({i: len(t) for i, t in sample.items()})
    assert stats.ks_2samp(lengths[served], lengths).pvalue > 0.01
    positive = np.array([gold[sample[i]] == "positive" for i in sample])
    served_positive = sum(gold[sample[i]] == "positive" for i in served)
    assert stats.binomtest(served_positive, 25, positive.mean()).pvalue > 0.01


def test_eval_texts_come_one_in_five_until_fifty_eval_labels_then_one_in_ten(db):
    """Issue 20: at one in ten, 25 eval labels (a +-17 point interval) took 250 labels."""
    pid = make_project(db, [f"text {i}" for i in range(800)], eval_fraction=0.2)
    actor = auth.local_actor("ann")
    splits = []
    for _ in range(350):
        split = annotate.choose_split(db, pid, "ann")
        shown = annotate.next_text(db, actor, pid, split)
        annotate.submit_label(db, actor, pid, shown, "yes")
        splits.append(shown.split)
    evals = np.cumsum([s == store.Split.EVAL for s in splits])
    assert evals[99] == 20 and evals[249] == 50  # one in five
    assert evals[349] == 60  # then one in ten
