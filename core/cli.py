"""Command line: python -m core {worker,import,export,export-model,simulate}."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from core import auth, store


def _project(db, name: str) -> dict:
    row = store.project_by_name(db, name)
    if row is None:
        sys.exit(f"error: no project called {name!r}")
    return row


def cmd_worker(args) -> None:
    from core.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    lanes = tuple(args.lanes.split(","))
    worker = Worker(lanes=lanes)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    logging.getLogger("sieve.worker").info("worker %s on %s, lanes %s", worker.id, store.connect().conn, lanes)
    worker.run()


def cmd_import(args) -> None:
    from core import io

    db = store.connect()
    try:
        frame = io.read_table(args.file)
        existing = store.project_by_name(db, args.project)
        if existing:
            plan = io.add_to_project(db, auth.local_actor(), existing["id"], frame, args.text_column, args.label_column,
                                     args.eval_fraction or 0.0, args.seed)
            print(f"added to {args.project!r}: {plan.summary()}")
        else:
            plan = io.plan_import(frame, args.text_column, args.label_column, io.parse_classes(args.classes))
            io.create_project_from_plan(db, auth.local_actor(), args.project, plan, model=args.model,
                                        eval_fraction=io.DEFAULT_EVAL_FRACTION if args.eval_fraction is None
                                        else args.eval_fraction,
                                        seed=args.seed)
            print(f"created {args.project!r} with classes {', '.join(plan.classes)}: {plan.summary()}")
    except io.ImportFailed as err:
        sys.exit(f"error: {err}")
    except OSError as err:  # a missing or unreadable file: one line, not a traceback
        sys.exit(f"error: cannot read {args.file}: {err.strerror or err}")


def cmd_export(args) -> None:
    from core import io

    fmt = args.format or Path(args.out).suffix.lstrip(".").lower() or "csv"
    if fmt not in io.EXPORT_FORMATS:  # checked before anything is read or written
        print(f"error: unknown export format {fmt!r} (from --out {args.out}); use --format or an --out ending in "
              f"one of {', '.join(io.EXPORT_FORMATS)}", file=sys.stderr)
        raise SystemExit(2)
    db = store.connect()
    project = _project(db, args.project)
    Path(args.out).write_bytes(io.export_labels(db, auth.local_actor(), project["id"], fmt))
    print(f"wrote {store.label_count(db, project['id'])} labels to {args.out}")


def cmd_export_model(args) -> None:
    from core import model_export

    db = store.connect()
    project = _project(db, args.project)
    versions = store.versions(db, project["id"])
    if args.version is not None:
        versions = [v for v in versions if v["number"] == args.version]
    if not versions:
        sys.exit("error: no such model version (train one first)")
    out = model_export.export_model(db, versions[-1]["id"], Path(args.out))
    print(f"wrote version {versions[-1]['number']} to {out}")


def family_arguments(args):
    """A family's arguments dataclass from --family-args JSON plus the named flags that apply to it."""
    import dataclasses

    from core import classifiers

    accepted = {f.name for f in dataclasses.fields(classifiers.spec(args.classifier).arguments)}
    values = json.loads(args.family_args) if args.family_args else {}
    named = {"max_steps": args.max_steps, "num_epochs": args.epochs, "learning_rate": args.learning_rate,
             "layerwise_gradient_decay": args.layerwise_gradient_decay, "max_length": args.max_length,
             "gradual_unfreezing": args.gradual_unfreezing or None, "freeze_encoder": args.freeze_encoder or None,
             "end_to_end": args.end_to_end or None, "warm_start": args.warm_start or None}
    if args.classifier == "setfit-diff" and args.epochs is not None:
        named["num_epochs"] = (1, args.epochs)
    for key, value in named.items():
        if value is None:
            continue
        if key not in accepted:
            raise ValueError(f"--{key.replace('_', '-')} does not apply to {args.classifier}")
        values[key] = value
    if args.head and args.classifier == "setfit":
        values["head"] = {"kind": args.head}
    values.setdefault("seed", args.seed)
    return classifiers.arguments(args.classifier, values)


def cmd_simulate(args) -> None:
    from core import simulate
    from core.classifiers import head

    try:
        train = simulate.read_dataset(args.train, args.text_column, args.label_column)
        test = simulate.read_dataset(args.test, args.text_column, args.label_column)
        family_args = family_arguments(args) if args.classifier != "head" else None
        head_args = head.HeadArguments(args.head, self_training=args.self_training) \
            if args.head and args.head != "logistic_regression" \
            else head.HeadArguments.logistic(C=args.head_c, self_training=args.self_training)
    except (OSError, ValueError, TypeError) as err:
        sys.exit(f"error: {err}")
    result = simulate.run(
        train, test, strategy=args.strategy, init=args.init, batch=args.batch, rounds=args.rounds, seed=args.seed,
        classifier=args.classifier, model=args.model, init_strategy=args.init_strategy, head_args=head_args,
        family_args=family_args, save_model=args.save_model, log=lambda m: print(m, file=sys.stderr),
    )
    result["config"].update({"train": str(args.train), "test": str(args.test)})
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(f"AUC {result['auc']:.4f}, final accuracy {result['final_accuracy']:.4f}")


def parser() -> argparse.ArgumentParser:
    from core import classifiers, strategies
    from core.classifiers import head as heads

    root = argparse.ArgumentParser(prog="python -m core", description="Sieve: active-learning text classification.")
    sub = root.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run the background training worker")
    p.add_argument("--lanes", default=",".join(store.LANES),
                   help="fast (head refits), embed (embedding, exports), slow (full retrains); default all")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("import", help="create a project from a file, or add the file to an existing project")
    p.add_argument("file")
    p.add_argument("--project", required=True)
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column")
    p.add_argument("--classes", help="comma-separated class names (default: the label column's values)")
    p.add_argument("--model", default="default", help="sentence-transformers model id or path")
    p.add_argument("--eval-fraction", type=float, default=None,
                   help="share of unlabeled texts held out as a random eval sample (new projects: 0.05, "
                        "at most 400 texts; added data: 0)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export labels")
    p.add_argument("--project", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"])
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("export-model", help="export a model version as a SetFit directory")
    p.add_argument("--project", required=True)
    p.add_argument("--version", type=int, help="version number (default: the latest)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export_model)

    p = sub.add_parser("simulate", help="simulate active learning with an oracle over a labeled dataset")
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--strategy", default="auto", choices=list(strategies.STRATEGIES))
    p.add_argument("--init", type=int, default=30)
    p.add_argument("--init-strategy", default="auto", choices=["auto", "random", "balanced"],
                   help="auto: the strategy's own cold start; balanced: class-balanced (uses the gold labels)")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classifier", default="head", choices=list(classifiers.CLASSIFIERS),
                   help="head: fast head on frozen embeddings; otherwise the family retrained every round")
    p.add_argument("--model", default=None, help="base model (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--head", choices=list(heads.HEADS), help="scikit-learn head (head and setfit)")
    p.add_argument("--head-c", type=float, default=3.0, help="inverse regularisation of the logistic head")
    p.add_argument("--self-training", type=float, default=3.0,
                   help="pseudo-labels per gold label from confident pool texts (0: off)")
    p.add_argument("--max-steps", type=int, help="setfit, setfit-diff: cap on contrastive steps")
    p.add_argument("--epochs", type=int, help="transformer: epochs; setfit-diff: head-phase epochs")
    p.add_argument("--learning-rate", type=float, help="transformer: base learning rate")
    p.add_argument("--max-length", type=int, help="tokens per text")
    p.add_argument("--layerwise-gradient-decay", type=float, help="transformer: e.g. 0.9")
    p.add_argument("--gradual-unfreezing", action="store_true", help="transformer: one more layer per epoch")
    p.add_argument("--freeze-encoder", action="store_true", help="transformer: train only the head")
    p.add_argument("--end-to-end", action="store_true", help="setfit-diff: update the body in the head phase")
    p.add_argument("--warm-start", action="store_true", help="setfit: each round continues from the last encoder")
    p.add_argument("--family-args", help='any family argument as JSON, e.g. \'{"batch_size": 8}\'')
    p.add_argument("--save-model", type=Path, help="write the final model here (the export format)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--out")
    p.set_defaults(func=cmd_simulate)
    return root


def main(argv: list[str] | None = None) -> None:
    from core import config

    config.apply_hub_mode()
    args = parser().parse_args(argv)
    args.func(args)
