"""Training time and accuracy per classifier family, on fixed slices of ag_news.

    python bench/train_speed.py --labels 128 512 --test 1000

For each label count: a class-balanced sample of ag_news train (seed 0); each family trains
from the packaged MiniLM with its default arguments (the transformer family with 3 epochs),
then scores 1,000 ag_news test texts. Prints train seconds, steps, scoring seconds and test
accuracy, on whatever device is present (CUDA when there is one).

With --pool N it also times DESIGN's GPU budget: a SetFit retrain with the given labels plus
re-embedding N pool texts (<= 30 s for 500 labels and 100k texts on one H100).
"""
from __future__ import annotations

import argparse
import time


from common import all_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--families", nargs="+", default=["head", "setfit", "setfit-diff", "transformer"])
    parser.add_argument("--pool", type=int, default=0, help="also re-embed this many pool texts after setfit")
    args = parser.parse_args()
    from core import config
    from core.learning import classifiers, embeddings, evaluation
    from core.sim import simulate
    from core.learning.classifiers import head

    train = simulate.read_dataset(config.datasets_dir() / "ag_news" / "train.csv")
    test = simulate.read_dataset(config.datasets_dir() / "ag_news" / "test.csv").sample(args.test, random_state=0)
    names = sorted(set(train["label"]))
    y_test = test["label"].map(names.index).to_numpy()
    print(f"device {embeddings.device()}, autocast {embeddings.autocast_dtype(embeddings.device())}; "
          f"ag_news test {len(test)}")
    print("| labels | family | arguments | steps | train s | score test s | accuracy |")
    print("|---|---|---|---|---|---|---|")
    for n in args.labels:
        sample = train.groupby("label").sample(n=n // len(names), random_state=0)
        texts, y = sample["text"].tolist(), sample["label"].map(names.index).to_numpy()
        for family in args.families:
            started = time.perf_counter()
            if family == "head":
                encoder = embeddings.load_encoder(None)
                fitted = head.fit(embeddings.encode(encoder, texts), y)
                train_s, steps, shown = time.perf_counter() - started, "-", "logistic C=10 (frozen encoder)"
                t = time.perf_counter()
                probs = head.predict_proba(fitted, embeddings.encode(encoder, test["text"].tolist()), len(names))
            else:
                family_args = classifiers.arguments(family, {"num_epochs": 3} if family == "transformer" else {})
                trained = classifiers.train(family, None, texts, y, names, family_args)
                train_s = time.perf_counter() - started
                steps = trained.info.steps
                shown = {k: v for k, v in family_args.to_dict().items() if k in
                         ("max_steps", "num_epochs", "batch_size", "max_length", "learning_rate")}
                t = time.perf_counter()
                probs = trained.embed_and_score(test["text"].tolist())[1]
            score_s = time.perf_counter() - t
            accuracy = evaluation.scores(y_test, probs.argmax(1))["accuracy"]
            print(f"| {len(sample)} | {family} | {shown} | {steps} | {train_s:.1f} | {score_s:.1f} | {accuracy:.3f} |",
                  flush=True)
            if family == "setfit" and args.pool:
                pool = all_texts(args.pool)["text"].tolist() if args.pool <= 100_000 else None
                t = time.perf_counter()
                trained.embed_and_score(pool)
                print(f"|   | setfit + re-embed {args.pool:,} pool texts | | | "
                      f"{train_s + time.perf_counter() - t:.1f} (train + re-embed) | | |", flush=True)


if __name__ == "__main__":
    main()
