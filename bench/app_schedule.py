"""The curve a user actually gets: the app's schedule replayed on a clock (`core.app_schedule`).

    python bench/app_schedule.py --datasets trec6 sst2 ag_news --seeds 0 --labels 200 \
        --max-pool 3000 --max-test 1000 --cache /tmp/wtbench/cache --out-dir bench/out/app-schedule

Two arms per dataset and seed, same annotator and data:
  app        the project defaults: head refits every 5 labels, full SetFit retrains at the
             device's cadence and time budget (on a CPU every 50 labels, 180 s)
  head only  the same without full retrains (retrain_every = 0)

Seeds can run as separate processes (each with its own --out-dir) and be put together after:

    python bench/app_schedule.py --merge out/seed0 out/seed1 out/seed2 --out-dir out/all

Reports accuracy and macro-F1 of the version in service against labels given and against
wall time, and what each retrain cost. Writes runs.json, summary.md and curves.png.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from common import TUNING_DATASETS, load_dataset, use_data_dir

ARMS = {"app": {}, "head only": {"retrain_every": 0}}


def served_at_labels(result: dict, n: int) -> dict:
    return next(b for b in result["by_label"] if b["n_labels"] >= n)


def served_at_time(result: dict, t: float) -> dict:
    from core.sim import app_schedule

    version = app_schedule.at_time(result, t)
    return version or {"accuracy": None, "macro_f1": None}


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _rows(arms: dict, marks: list, served) -> list[str]:
    """One table row per arm: macro-F1 / accuracy of the version `served(result, mark)` returns."""
    lines = []
    for arm, runs in arms.items():
        cells = [f"{cell(mean(served(r, m)['macro_f1'] for r in runs))} / "
                 f"{cell(mean(served(r, m)['accuracy'] for r in runs))}" for m in marks]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return lines


def _per_seed(arms: dict, marks: list[int]) -> list[str]:
    seeds = sorted({r["config"]["seed"] for runs in arms.values() for r in runs})
    by = {(arm, r["config"]["seed"]): r for arm, runs in arms.items() for r in runs}
    lines = ["| labels | " + " | ".join(f"{arm}, seed {s}" for arm in arms for s in seeds) + " | worst difference |",
             "|---|" + "---|" * (len(arms) * len(seeds) + 1)]
    for m in marks:
        cells = [cell(served_at_labels(by[a, s], m)["macro_f1"]) if (a, s) in by else "—" for a in arms for s in seeds]
        gaps = [served_at_labels(by["app", s], m)["macro_f1"] - served_at_labels(by["head only", s], m)["macro_f1"]
                for s in seeds if ("app", s) in by and ("head only", s) in by
                and served_at_labels(by["app", s], m)["macro_f1"] is not None
                and served_at_labels(by["head only", s], m)["macro_f1"] is not None]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {f'{min(gaps):+.3f}' if gaps else '—'} |")
    return lines


def markdown(results: dict, notes: dict, label_marks: list[int], time_marks: list[float]) -> str:
    lines = ["# The app's schedule on a clock", ""]
    for dataset, arms in results.items():
        lines += [f"## {dataset}", "", notes[dataset], "",
                  "Macro-F1 / accuracy of the version in service when the annotator has given n labels "
                  "(eval-sample labels included; mean over seeds):", "",
                  "| arm | " + " | ".join(f"{n} labels" for n in label_marks) + " |",
                  "|---|" + "---|" * len(label_marks), *_rows(arms, label_marks, served_at_labels),
                  "", "Macro-F1 of the version in service per seed (`served` - `head only` where both ran):", "",
                  *_per_seed(arms, label_marks),
                  "", "Against wall time (minutes since the annotator started):", "",
                  "| arm | " + " | ".join(f"{t / 60:g} min" for t in time_marks) + " |",
                  "|---|" + "---|" * len(time_marks), *_rows(arms, time_marks, served_at_time),
                  "", "Versions (first seed): kind, training labels, started → published (s), macro-F1:", ""]
        for arm, runs in arms.items():
            fulls = [v for v in runs[0]["versions"] if v["kind"] == "full"]
            heads = [v for v in runs[0]["versions"] if v["kind"] == "head"]
            lines.append(f"- {arm}: {len(heads)} head refits (median {np.median([v['compute_s'] for v in heads]):.2f} s)"
                         + (f", {len(fulls)} full retrains: " + "; ".join(
                             f"{v['n_train']} labels {v['started_s']:.0f} → {v['published_s']:.0f} s "
                             f"(F1 {v['macro_f1']:.3f})" for v in fulls) if fulls else "")
                         + f"; last version published at {runs[0]['end_s']:.0f} s.")
        for arm, runs in arms.items():
            for seed, run in enumerate(runs):
                for v in run["versions"]:
                    if v["kind"] == "head" and v.get("reason"):
                        lines.append(f"  - {arm}, run {seed}: head on {v['n_train']} labels, test macro-F1 "
                                     f"{v['macro_f1']:.3f}: {v['reason']}")
        lines.append("")
    return "\n".join(lines)


def plot(results: dict, path: Path, seconds_per_label: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(results), figsize=(4.4 * len(results), 6.4), squeeze=False)
    for column, (dataset, arms) in enumerate(results.items()):
        for arm, runs in arms.items():
            n = [b["n_labels"] for b in runs[0]["by_label"]]
            f1 = [mean(r["by_label"][i]["macro_f1"] for r in runs) for i in range(len(n))]
            f1 = [np.nan if v is None else v for v in f1]
            axes[0, column].plot(n, f1, label=arm)
            end = max(r["end_s"] for r in runs)
            grid = np.arange(0, end + seconds_per_label, seconds_per_label)
            f1_t = [mean(served_at_time(r, t)["macro_f1"] for r in runs) for t in grid]
            axes[1, column].plot(grid / 60, [np.nan if v is None else v for v in f1_t], label=arm)
        axes[0, column].set_title(dataset)
        axes[0, column].set_xlabel("labels given")
        axes[1, column].set_xlabel("minutes")
        for axis in axes[:, column]:
            axis.set_ylabel("test macro-F1 of the served version")
            axis.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def merge(directories: list[str], out_dir: Path, seconds_per_label: float) -> None:
    """One summary of runs written by separate invocations (one per seed, say): runs.json of each."""
    every = [run for d in directories for run in json.loads((Path(d) / "runs.json").read_text())]
    every.sort(key=lambda r: (r["config"]["dataset"], r["config"]["arm"], r["config"]["seed"]))
    results, notes = {}, {}
    for run in every:
        c = run["config"]
        results.setdefault(c["dataset"], {}).setdefault(c["arm"], []).append(run)
        notes[c["dataset"]] = (f"merged from {', '.join(directories)}; pool {c['pool']}, eval sample {c['eval_sample']}, "
                               f"test {c['test']}; {len(c['classes'])} classes; one label every {c['seconds_per_label']:g} s; "
                               f"{c['labels']} labels; device {c['device']}; family {c['family']} {c['family_args']}; "
                               f"retrain budget {c['retrain_budget_s']} s.")
    for dataset, arms in results.items():
        notes[dataset] += " Seeds: " + "; ".join(f"{a} {[r['config']['seed'] for r in runs]}" for a, runs in arms.items())
    labels = every[0]["config"]["labels"]
    label_marks = [n for n in (10, 30, 50, 100, 150, 200, 300, 500) if n <= labels]
    end = labels * seconds_per_label
    time_marks = sorted({round(end * f / 60) * 60.0 for f in (0.1, 0.25, 0.5, 0.75, 1.0)} - {0.0})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "runs.json").write_text(json.dumps(every))
    (out_dir / "summary.md").write_text(markdown(results, notes, label_marks, time_marks))
    plot(results, out_dir / "curves.png", seconds_per_label)
    print(f"wrote {out_dir}/runs.json, summary.md, curves.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["trec6", "sst2", "ag_news"])
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--seconds-per-label", type=float, default=5.0)
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--settings", default="{}", help="project settings as JSON, applied to every arm")
    parser.add_argument("--one-vs-rest", metavar="CLASS",
                        help="relabel every dataset as CLASS vs 'other' (an imbalanced binary task)")
    parser.add_argument("--max-pool", type=int, default=3000)
    parser.add_argument("--max-test", type=int, default=1000)
    parser.add_argument("--cache", help="data dir to cache base embeddings in (default: a scratch dir)")
    parser.add_argument("--out-dir", default="bench/out/app-schedule")
    parser.add_argument("--merge", nargs="+", metavar="DIR", help="put together the runs.json of earlier runs; runs nothing")
    args = parser.parse_args()
    if args.merge:
        return merge(args.merge, Path(args.out_dir), args.seconds_per_label)
    use_data_dir(args.cache)
    from core.learning import embeddings
    from core.sim import app_schedule
    from core.settings import ProjectSettings

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, notes, every = {}, {}, []
    for name in args.datasets:
        train, test, note = load_dataset(name, args.split, args.max_pool, args.max_test)
        if args.one_vs_rest:
            train, test = (f.assign(label=np.where(f["label"] == args.one_vs_rest, args.one_vs_rest, "other"))
                           for f in (train, test))
            note += (f"; one-vs-rest: {args.one_vs_rest} ({(train['label'] == args.one_vs_rest).mean():.1%} of the pool)"
                     f" vs other")
        if args.split == "test" and name in TUNING_DATASETS:
            note += " (a tuning dataset: not held-out evidence)"
        notes[name] = (f"{note}; {len(set(train['label']))} classes; one label every {args.seconds_per_label:g} s; "
                       f"{args.labels} labels; seeds {args.seeds}; device {embeddings.device()}; settings {args.settings}.")
        results[name] = {}
        for arm in args.arms:
            settings = ProjectSettings.from_dict({**json.loads(args.settings), **ARMS[arm]})
            results[name][arm] = []
            for seed in args.seeds:
                started = time.perf_counter()
                result = app_schedule.run(train, test, app_schedule.ScheduleArguments(
                    labels=args.labels, seconds_per_label=args.seconds_per_label, settings=settings, seed=seed))
                result["config"].update({"dataset": name, "arm": arm})
                result["wall_s"] = time.perf_counter() - started
                results[name][arm].append(result)
                every.append(result)
                last = result["by_label"][-1]
                print(f"{name:10s} {arm:10s} seed {seed}: {last['n_train']} training labels, final macro-F1 "
                      f"{last['macro_f1']:.3f}, last version at {result['end_s']:.0f} s "
                      f"({result['wall_s']:.0f} s to simulate)", flush=True)
        (out_dir / "runs.json").write_text(json.dumps(every))
    label_marks = [n for n in (10, 30, 50, 100, 150, 200, 300, 500) if n <= args.labels]
    end = args.labels * args.seconds_per_label
    time_marks = sorted({round(end * f / 60) * 60.0 for f in (0.1, 0.25, 0.5, 0.75, 1.0)} - {0.0})
    (out_dir / "summary.md").write_text(markdown(results, notes, label_marks, time_marks))
    plot(results, out_dir / "curves.png", args.seconds_per_label)
    print(f"wrote {out_dir}/runs.json, summary.md, curves.png")


if __name__ == "__main__":
    main()
