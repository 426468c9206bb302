"""SetFit's training length: tokens per text while training (128 vs 256), time and macro-F1.

    python bench/train_length.py --datasets mr emotion --seeds 0 1 --labels 100 --lengths 128 256

Tuning datasets only, validation splits (docs/benchmarks.md, tuning protocol). Each run draws
`--labels` random labels from the pool, fine-tunes the encoder with the default SetFit
arguments at the given training length, embeds at the encoder's own length (as the app does
since issue 25), fits the default head on the labels and scores macro-F1 on the validation
split. Also prints the share of texts longer than 128 tokens: where there are none, the two
lengths are the same computation (batches are padded to their longest text).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from common import TUNING_DATASETS, load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mr", "emotion"], choices=TUNING_DATASETS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--max-eval", type=int, default=1000)
    parser.add_argument("--max-steps", type=int, default=80, help="contrastive steps (the app's cap: 80)")
    parser.add_argument("--out", default="bench/out/train-length.json")
    args = parser.parse_args()
    from core.learning import embeddings, evaluation
    from core.learning.classifiers import head, setfit_family

    tokenizer = embeddings.load_encoder(None).tokenizer
    rows = []
    print("| dataset | seed | train length | texts > 128 tokens (labels) | steps | train s | validation macro-F1 |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        pool, valid, _ = load_dataset(name, "validation", max_eval=args.max_eval)
        names = sorted(set(pool["label"]))
        y_valid = valid["label"].map(names.index).to_numpy()
        for seed in args.seeds:
            sample = pool.sample(args.labels, random_state=seed)
            texts, y = sample["text"].tolist(), sample["label"].map(names.index).to_numpy()
            long_share = float(np.mean([len(ids) > 128 for ids in tokenizer(texts)["input_ids"]]))
            for length in args.lengths:
                started = time.perf_counter()
                body, info = setfit_family.train_body(None, texts, y, setfit_family.SetFitArguments(
                    max_length=length, seed=seed, max_steps=args.max_steps))
                train_s = time.perf_counter() - started
                fitted = head.fit(embeddings.encode(body, texts), y)
                probs = head.predict_proba(fitted, embeddings.encode(body, valid["text"].tolist()), len(names))
                f1 = evaluation.scores(y_valid, probs.argmax(1))["macro_f1"]
                rows.append({"dataset": name, "seed": seed, "length": length, "long_share": long_share,
                             "steps": info.steps, "train_s": train_s, "macro_f1": f1})
                print(f"| {name} | {seed} | {length} | {long_share:.1%} | {info.steps} | {train_s:.1f} | {f1:.4f} |",
                      flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
