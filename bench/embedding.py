"""Pool embedding throughput: Sieve's encode vs plain SentenceTransformer.encode.

    python bench/embedding.py --n 2000 --batch-size 64

Both use the same packaged model, texts and batch size. Sieve adds bf16 autocast on CPUs
that support it (DESIGN budget: >= 90 % of plain encode's throughput). Also prints the
cosine similarity between the two, and a quick frozen-head accuracy check with each.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import all_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    from core import config
    from core.learning import embeddings, evaluation
    from core.sim import simulate
    from core.learning.classifiers import head

    texts = all_texts(args.n)["text"].tolist()
    model = embeddings.load_encoder(None)
    model.encode(texts[:64], batch_size=args.batch_size)  # warm up
    started = time.perf_counter()
    plain = model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    plain_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = embeddings.encode(model, texts, batch_size=args.batch_size)
    ours_s = time.perf_counter() - started
    cosine = (plain * ours).sum(axis=1)
    print(f"device {embeddings.device()}, autocast {embeddings.autocast_dtype(embeddings.device())}, "
          f"{args.n} texts, batch {args.batch_size}")
    print(f"plain SentenceTransformer.encode: {args.n / plain_s:8.1f} texts/s")
    print(f"sieve embeddings.encode:          {args.n / ours_s:8.1f} texts/s  ({plain_s / ours_s:.0%} of plain)")
    print(f"cosine(plain, sieve): min {cosine.min():.4f}, mean {cosine.mean():.4f}")

    train = simulate.read_dataset(config.datasets_dir() / "trec6" / "train.csv").iloc[:1000]
    test = simulate.read_dataset(config.datasets_dir() / "trec6" / "test.csv")
    names = sorted(set(train["label"]))
    y_train = train["label"].map(names.index).to_numpy()
    y_test = test["label"].map(names.index).to_numpy()
    for label, encode in (("plain fp32", lambda t: model.encode(t, batch_size=64, normalize_embeddings=True)),
                          ("sieve", lambda t: embeddings.encode(model, t))):
        fitted = head.fit(np.asarray(encode(train["text"].tolist())), y_train)
        accuracy = evaluation.scores(y_test, fitted.predict(np.asarray(encode(test["text"].tolist()))))["accuracy"]
        print(f"trec6 head on 1000 labels, {label:10s}: test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
