"""Full retrain time on CPU (or GPU when present): SetFit fine-tuning, then re-embedding the pool.

    python bench/retrain.py --labels 50 200 --pool 10000

Labels are a class-balanced sample of ag_news train; the pool is real texts from the shared
datasets. Prints training time (DESIGN budget: <= 3 min at 200 labels on CPU), steps,
re-embedding time, and the test accuracy of the refitted head on ag_news test (1000 texts)
with the capped retrain vs the frozen encoder, so the cap's cost in quality is visible.
"""
from __future__ import annotations

import argparse
import time

from common import all_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--max-steps", type=int, nargs="+", default=[80])
    args = parser.parse_args()
    from core import config
    from core.learning import embeddings, evaluation
    from core.sim import simulate
    from core.learning.classifiers import head, setfit_family

    train = simulate.read_dataset(config.datasets_dir() / "ag_news" / "train.csv")
    test = simulate.read_dataset(config.datasets_dir() / "ag_news" / "test.csv").sample(1000, random_state=0)
    names = sorted(set(train["label"]))
    pool_texts = all_texts(args.pool)["text"].tolist()
    base = embeddings.load_encoder(None)
    print(f"device {embeddings.device()}; pool {args.pool:,} texts; ag_news test 1000")
    print("| labels | max steps | steps | train s | re-embed pool s | accuracy frozen | accuracy retrained |")
    print("|---|---|---|---|---|---|---|")
    for n in args.labels:
        sample = train.groupby("label").sample(n=n // len(names), random_state=0)
        y = sample["label"].map(names.index).to_numpy()
        y_test = test["label"].map(names.index).to_numpy()
        frozen = head.fit(embeddings.encode(base, sample["text"].tolist()), y)
        frozen_acc = evaluation.scores(y_test, frozen.predict(embeddings.encode(base, test["text"].tolist())))
        for max_steps in args.max_steps:
            tuned, info = setfit_family.train_body(None, sample["text"].tolist(), y,
                                                   setfit_family.SetFitArguments(max_steps=max_steps))
            started = time.perf_counter()
            embeddings.encode(tuned, pool_texts)
            embed_s = time.perf_counter() - started
            fitted = head.fit(embeddings.encode(tuned, sample["text"].tolist()), y)
            acc = evaluation.scores(y_test, fitted.predict(embeddings.encode(tuned, test["text"].tolist())))
            print(f"| {len(sample)} | {max_steps} | {info.steps} | {info.seconds:.1f} | {embed_s:.1f} | "
                  f"{frozen_acc['accuracy']:.3f} | {acc['accuracy']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
