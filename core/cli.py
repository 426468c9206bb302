"""Command line: `sieve …` or `python -m core …` (run, worker, import, export, export-model, predict, backup,
restore, simulate).

In team mode (once user accounts exist) the commands that read or change a project's data act as
the user named by --user, whose password comes from SIEVE_PASSWORD or a prompt, and check that
user's role as the app does; with no accounts yet they act as the local admin, as the app does.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

from core import config, store
from core.learning import multilabel
from core.team import auth


def _project(db, name: str) -> dict:
    row = store.project_by_name(db, name)
    if row is None:
        sys.exit(f"error: no project called {name!r}")
    return row


# Streamlit's production settings, passed as flags by `sieve run` so that an installed Sieve (whose app.py
# sits in site-packages, away from any .streamlit folder) serves exactly as a checkout does; a test
# keeps them equal to .streamlit/config.toml, which `streamlit run app.py` reads in a checkout.
STREAMLIT_SETTINGS = {"server.address": "localhost", "server.fileWatcherType": "none", "server.runOnSave": False,
                      "server.enableXsrfProtection": True, "server.xsrfCookieSameSite": "strict",
                      "server.enableCORS": True, "server.allowedHosts": ["localhost", "127.0.0.1", "::1"],
                      "server.enableStaticServing": False, "server.enableAgentApi": False,
                      "client.toolbarMode": "minimal", "browser.gatherUsageStats": False}


def streamlit_command(extra: list[str]) -> list[str]:
    """The command `sieve run` executes: Streamlit on the serve.py (app.py and the sign-in route) installed beside `core`, with the
    production settings first so that options given on the command line override them."""
    from core import config

    flags = [f"--{key}={str(item).lower() if isinstance(item, bool) else item}"
             for key, value in STREAMLIT_SETTINGS.items()
             for item in (value if isinstance(value, list) else [value])]  # a list: the option once per item
    return [sys.executable, "-m", "streamlit", "run", str(config.server_path()), *flags, *extra]


def cmd_run(args) -> None:
    import os
    import shlex
    import subprocess

    from core import config

    for path in (config.app_path(), config.server_path()):
        if not path.exists():
            sys.exit(f"error: the app is not where Sieve expects it: {path} (a broken install?)")
    command = streamlit_command(args.streamlit_args)
    print(f"Sieve keeps its data in {config.data_dir()} (SIEVE_DATA_DIR changes it)", flush=True)
    print("+ " + shlex.join(command), flush=True)
    if os.name == "nt":
        try:
            sys.exit(subprocess.call(command))
        except KeyboardInterrupt:
            sys.exit(130)
    os.execv(command[0], command)  # Streamlit takes this process's place: Ctrl-C and SIGTERM reach it


PASSWORD_ENV = "SIEVE_PASSWORD"


def _actor(db, args) -> auth.Actor:
    """Who the command acts as: the local admin in single-user mode, else the signed-in --user."""
    name = (getattr(args, "user", None) or "").strip()
    if not auth.team_mode(db):
        return auth.local_actor(name or "local")
    if not name:
        raise auth.AuthError(f"This Sieve has user accounts: pass --user NAME (the password comes from "
                             f"{PASSWORD_ENV} or a prompt).")
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            raise auth.AuthError(f"No password for {name}: set {PASSWORD_ENV}, or run the command in a terminal "
                                 "to be asked for it.")
        import getpass

        password = getpass.getpass(f"Password for {name}: ")
    return auth.authenticate(db, name, password)


def _require(db, args, permission: str, project_id: int | None = None) -> auth.Actor:
    """The acting user, if their role allows `permission` (in `project_id`); auth.AuthError otherwise."""
    return auth.require(db, _actor(db, args), permission, project_id)


def cmd_worker(args) -> None:
    import os

    if nice := config.worker_nice():  # before torch is imported or any thread starts: they all inherit it
        os.nice(nice)
    from core.jobs.worker import LANES, Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    lanes = tuple(args.lanes.split(",")) if args.lanes else tuple(LANES)
    if unknown := [lane for lane in lanes if lane not in LANES]:
        sys.exit(f"error: unknown lane {', '.join(unknown)}; the lanes are {', '.join(LANES)}")
    worker = Worker(lanes=lanes)
    import signal

    # SIGTERM (kill, systemd) and SIGINT (Ctrl-C) both stop the worker cleanly: running jobs go back
    # to the queue and the process exits 0 within Worker's grace period.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: worker.stop.set())
    logging.getLogger("sieve.worker").info("worker %s on %s, lanes %s", worker.id, config.db_path(), lanes)
    if not worker.run():
        logging.shutdown()
        os._exit(0)  # a lane is still inside torch: interpreter teardown would abort the process


def cmd_import(args) -> None:
    from core.files import imports

    db = store.connect()
    existing = store.project_by_name(db, args.project)
    actor = _require(db, args, auth.MANAGE_PROJECTS, existing["id"] if existing else None)  # before the file is read
    try:
        frame = imports.read_table(args.file)
        if existing:
            plan = imports.add_to_project(db, actor, existing["id"], frame, args.text_column, args.label_column,
                                          args.eval_fraction or 0.0, args.seed)
            print(f"added to {args.project!r}: {plan.summary()}")
        else:
            plan = imports.plan_import(frame, args.text_column, args.label_column, imports.parse_classes(args.classes))
            imports.create_project_from_plan(db, actor, args.project, plan, model=args.model,
                                             eval_fraction=imports.DEFAULT_EVAL_FRACTION if args.eval_fraction is None
                                             else args.eval_fraction,
                                             seed=args.seed)
            print(f"created {args.project!r} with classes {', '.join(plan.classes)}: {plan.summary()}")
    except imports.ImportFailed as err:
        sys.exit(f"error: {err}")
    except OSError as err:  # a missing or unreadable file: one line, not a traceback
        sys.exit(f"error: cannot read {args.file}: {err.strerror or err}")


def cmd_export(args) -> None:
    from core.files import exports

    fmt = args.format or Path(args.out).suffix.lstrip(".").lower() or "csv"
    if fmt == "hf-datasets":
        from core.files import hf_datasets

        db = store.connect()
        project = _project(db, args.project)
        _require(db, args, auth.EXPORT, project["id"])
        hf_datasets.save(db, project["id"], Path(args.out))
        print(f"wrote {store.label_count(db, project['id'])} labels to {args.out} (datasets.load_from_disk)")
        return
    if fmt not in exports.EXPORT_FORMATS:  # checked before anything is read or written
        print(f"error: unknown export format {fmt!r} (from --out {args.out}); use --format or an --out ending in "
              f"one of {', '.join(exports.EXPORT_FORMATS)}", file=sys.stderr)
        raise SystemExit(2)
    db = store.connect()
    project = _project(db, args.project)
    actor = _require(db, args, auth.EXPORT, project["id"])
    Path(args.out).write_bytes(exports.export_labels(db, actor, project["id"], fmt))
    print(f"wrote {store.label_count(db, project['id'])} labels to {args.out}")


def cmd_export_model(args) -> None:
    from core.files import model_export

    db = store.connect()
    project = _project(db, args.project)
    _require(db, args, auth.EXPORT, project["id"])  # the model leaves Sieve: as the app's model export
    version = _version(db, project, args.version)
    out = model_export.export_model(db, version["id"], Path(args.out))
    print(f"wrote version {version['number']} to {out}")


def _version(db, project: dict, number: int | None) -> dict:
    """Version `number`, or the one served (the pinned one, else the newest)."""
    if number is None:
        version = store.current_version(db, project["id"])
    else:
        version = next((v for v in store.versions(db, project["id"]) if v["number"] == number), None)
    if version is None:
        sys.exit("error: no such model version (train one first)")
    return version


def cmd_predict(args) -> None:
    import time

    from core.files import imports, predict

    db = store.connect()
    project = _project(db, args.project)
    _require(db, args, auth.EXPORT, project["id"])  # as the app's predictions (core.files.predict.request_predict)
    version = _version(db, project, args.version)
    fmt = args.format or Path(args.out).suffix.lstrip(".").lower()
    if fmt not in predict.FORMATS:
        sys.exit(f"error: unknown output format {fmt!r}; use --format or an --out ending in .csv or .parquet")
    try:
        texts = predict.texts_of(imports.read_table(args.file), args.text_column)
    except (imports.ImportFailed, predict.PredictFailed) as err:
        sys.exit(f"error: {err}")
    except OSError as err:
        sys.exit(f"error: cannot read {args.file}: {err.strerror or err}")
    started = time.perf_counter()
    scorer = predict.scorer(db, version)
    loaded = time.perf_counter()
    probs = np.concatenate([scorer(texts[i:i + predict.CHUNK]) for i in range(0, len(texts), predict.CHUNK)]) \
        if texts else np.zeros((0, len(store.class_names(db, project["id"]))))
    done = time.perf_counter()
    frame = predict.frame_for(version, texts, probs, store.class_names(db, project["id"]))
    Path(args.out).write_bytes(predict.to_bytes(frame, fmt))
    print(f"predicted {len(texts):,} texts with version {version['number']} in {done - loaded:.2f} s "
          f"({len(texts) / max(done - loaded, 1e-9):,.0f} texts/s; loading the model took {loaded - started:.1f} s); "
          f"wrote {args.out}")


def cmd_backup(args) -> None:
    from core.jobs import backup

    _require(store.connect(), args, auth.BACKUP)
    try:
        summary = backup.backup(Path(args.out))
    except backup.BackupError as err:
        sys.exit(f"error: {err}")
    print(f"backed up {summary['labels']} labels ({summary['annotations']} annotations) and "
          f"{summary['artifact_dirs']} artifact directories to {args.out} in {summary['seconds']:.1f} s")


def cmd_unlock(args) -> None:
    """Clear a name's failed sign-ins. No password: it runs on the host, where the database can be
    read anyway; it is how an admin who cannot wait out the delay gets in."""
    cleared = auth.unlock(store.connect(), args.name)
    print(f"{args.name}: failed sign-ins cleared" if cleared else f"{args.name}: no failed sign-ins to clear")


def cmd_restore(args) -> None:
    from core.jobs import backup

    _require(store.connect(), args, auth.BACKUP)  # against the store it replaces
    try:
        summary = backup.restore(Path(args.source))
    except backup.BackupError as err:
        sys.exit(f"error: {err}")
    print(f"restored {summary['labels']} labels and {summary['artifact_dirs']} artifact directories "
          f"from {args.source} into {summary['restored_to']}")


def family_arguments(args):
    """A family's arguments dataclass from --family-args JSON plus the named flags that apply to it."""
    from core.learning import classifiers

    accepted = classifiers.argument_names(args.classifier)
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


def _simulate_multilabel(args) -> None:
    """`simulate --multilabel`: the labels column holds sets (`|`, `;` or a JSON list); the app's
    one-vs-rest heads with tuned thresholds and a multi-label strategy (issue 21)."""
    import pandas as pd

    from core.learning import class_examples, embeddings, labelsets
    from core.sim import multilabel_sim

    column = args.label_column if args.label_column != "label" else "labels"
    try:
        frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in (args.train, args.test)]
        sets = [[labelsets.parse_cell(c) or [] for c in f[column]] for f in frames]
    except (OSError, KeyError, ValueError) as err:
        sys.exit(f"error: {err}")
    classes = sorted({c for s in sets for row in s for c in row})
    encoder = embeddings.load_encoder(args.model)
    X, test_X = (embeddings.encode(encoder, f[args.text_column].tolist()) for f in frames)
    names = embeddings.encode(encoder, list(class_examples.texts([{"name": c} for c in classes]))) \
        if args.class_names else None
    curve = multilabel_sim.run(X, labelsets.one_hot(sets[0], classes), test_X, labelsets.one_hot(sets[1], classes),
                               multilabel_sim.Arguments(args.ml_strategy, "kmeans" if args.init_strategy != "random"
                                                        else "random", args.init, args.batch,
                                                        args.init + args.batch * args.rounds, args.seed), names)
    result = {"config": {"train": str(args.train), "test": str(args.test), "strategy": args.ml_strategy,
                         "classes": classes}, "curve": curve}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    last = curve[-1]
    print(f"{last['labels']} labels: macro-F1 {last['macro_f1']:.4f}, micro-F1 {last['micro_f1']:.4f}, "
          f"Hamming loss {last['hamming_loss']:.4f}, subset accuracy {last['subset_accuracy']:.4f}")


def cmd_simulate(args) -> None:
    from core.sim import simulate
    from core.learning.classifiers import head

    if args.multilabel:
        _simulate_multilabel(args)
        return

    try:
        train = simulate.read_dataset(args.train, args.text_column, args.label_column)
        test = simulate.read_dataset(args.test, args.text_column, args.label_column)
        family_args = family_arguments(args) if args.classifier != "head" else None
        head_args = head.HeadArguments(args.head, self_training=args.self_training) \
            if args.head and args.head != "logistic_regression" \
            else head.HeadArguments.logistic(C=args.head_c, self_training=args.self_training)
        head_args.class_names = args.class_names
    except (OSError, ValueError, TypeError) as err:
        sys.exit(f"error: {err}")
    if args.schedule == "app":
        _simulate_app_schedule(args, train, test)
        return
    if args.settings:
        sys.exit("error: --settings applies only with --schedule app (use --head-c, --self-training and the "
                 "family options for rounds)")
    try:
        simulation = simulate.SimulationArguments(
            strategy=args.strategy, init=args.init, batch=args.batch, rounds=args.rounds, seed=args.seed,
            classifier=args.classifier, model=args.model, init_strategy=args.init_strategy, head_args=head_args,
            family_args=family_args, save_model=args.save_model)
    except ValueError as err:
        sys.exit(f"error: {err}")
    result = simulate.run(train, test, simulation, log=lambda m: print(m, file=sys.stderr))
    result["config"].update({"train": str(args.train), "test": str(args.test)})
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(f"AUC {result['auc']:.4f}, final accuracy {result['final_accuracy']:.4f}")


def _simulate_app_schedule(args, train, test) -> None:
    """`simulate --schedule app`: the app's cadence on a clock (core.app_schedule)."""
    from core.sim import app_schedule
    from core.labeling.annotate import EARLY_EVAL_LABELS, EVAL_EVERY, EVAL_EVERY_EARLY
    from core.settings import ProjectSettings, SettingsError

    try:
        changes = json.loads(args.settings) if args.settings else {}
    except json.JSONDecodeError as err:
        sys.exit(f"error: --settings is not valid JSON ({err})")
    try:
        if isinstance(changes, dict) and args.classifier != "head":
            changes["family"] = args.classifier
        if isinstance(changes, dict):
            changes = {"strategy": args.strategy, **changes}
        settings = ProjectSettings.from_user(changes)
        schedule = app_schedule.ScheduleArguments(labels=args.labels, seconds_per_label=args.seconds_per_label,
                                                  settings=settings, seed=args.seed, model=args.model)
    except (ValueError, SettingsError) as err:
        sys.exit(f"error: {err}")
    result = app_schedule.run(train, test, schedule, log=lambda m: print(m, file=sys.stderr))
    result["config"].update({"train": str(args.train), "test": str(args.test)})
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    kinds = {v["serial"]: v["kind"] for v in result["versions"]}
    print("labels given  of them training  version in service  accuracy  macro-F1")
    for row in result["by_label"]:
        if row["n_labels"] % 25 == 0 or row is result["by_label"][-1]:
            served = "none yet" if row["version"] is None else f"{row['version'] + 1} ({kinds[row['version']]})"
            accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
            f1 = "-" if row["macro_f1"] is None else f"{row['macro_f1']:.3f}"
            print(f"{row['n_labels']:12d}  {row['n_train']:16d}  {served:>17s}  {accuracy:>8s}  {f1:>8s}")
    versions = result["versions"]
    fulls = sum(v["kind"] == "full" for v in versions)
    last = max(versions, key=lambda v: v["published_s"]) if versions else None
    print(f"{args.labels} labels in {args.labels * args.seconds_per_label:.0f} s of simulated time "
          f"(one every {args.seconds_per_label:g} s; one in {EVAL_EVERY_EARLY} for the eval sample until {EARLY_EVAL_LABELS} "
          f"eval labels, then one in {EVAL_EVERY}; never trained on); "
          f"{len(versions)} versions ({len(versions) - fulls} head refits, {fulls} full retrains)"
          + (f"; the last published at {last['published_s']:.0f} s, trained on {last['n_train']} labels" if last else ""))


def _user_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", help=f"team mode: act as this user (password from {PASSWORD_ENV}, else asked); "
                                  "without accounts the command acts as the local admin")


def parser() -> argparse.ArgumentParser:
    from core.learning import classifiers, strategies
    from core.learning.classifiers import head as heads

    prog = "sieve" if Path(sys.argv[0]).stem == "sieve" else "python -m core"
    root = argparse.ArgumentParser(prog=prog, description="Sieve: active-learning text classification.")
    sub = root.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start the app (Streamlit) on localhost; other options go to `streamlit run`",
                       description="Start Sieve's app with its production settings. Any further options go to "
                                   "`streamlit run`, e.g. --server.port 8502.")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("worker", help="run the background training worker")
    p.add_argument("--lanes", default=None,
                   help="comma-separated: fast (quick model refits), embed (embedding, exports, predictions, "
                        "label analyses), slow (full retrains); default all")
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
    _user_option(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export labels")
    p.add_argument("--project", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=["csv", "jsonl", "parquet", "hf-datasets"],
                   help="hf-datasets: a Hugging Face datasets directory at --out (datasets.load_from_disk)")
    _user_option(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("export-model", help="export a model version as a SetFit directory")
    p.add_argument("--project", required=True)
    p.add_argument("--version", type=int, help="version number (default: the one served: pinned, else the newest)")
    p.add_argument("--out", required=True)
    _user_option(p)
    p.set_defaults(func=cmd_export_model)

    p = sub.add_parser("predict", help="predict the classes of a file's texts with a model version (a multi-label "
                       "project: each text's set of labels and every label's probability)")
    p.add_argument("file", help="CSV, TSV, JSONL, JSON, Parquet or TXT, read as an import reads it")
    p.add_argument("--project", required=True)
    p.add_argument("--version", type=int, help="version number (default: the one served: pinned, else the newest)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--out", required=True, help="predictions file (.csv or .parquet)")
    p.add_argument("--format", choices=["csv", "parquet"])
    _user_option(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("backup", help="copy the store and its artifacts while Sieve runs (SQLite backup API)")
    p.add_argument("out", help="a new or empty directory")
    _user_option(p)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="bring back a backup (stop the worker first)")
    p.add_argument("source", help="a directory written by `backup`")
    _user_option(p)
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("unlock", help="clear a name's failed sign-ins so it may sign in at once (run on the host)")
    p.add_argument("name", help="the user name, as typed at sign-in")
    p.set_defaults(func=cmd_unlock)

    p = sub.add_parser("simulate", help="simulate active learning with an oracle over a labeled dataset")
    p.add_argument("--train", required=True, help="labeled CSV the oracle reveals labels from (the pool)")
    p.add_argument("--test", required=True, help="labeled CSV every model version is scored on")
    p.add_argument("--strategy", default="auto", choices=list(strategies.STRATEGIES))
    p.add_argument("--init", type=int, default=30, help="initial labels (default 30)")
    p.add_argument("--init-strategy", default="auto", choices=["auto", "random", "balanced"],
                   help="auto: the strategy's own cold start; balanced: class-balanced (uses the gold labels)")
    p.add_argument("--batch", type=int, default=10, help="labels per round (default 10)")
    p.add_argument("--rounds", type=int, default=10, help="rounds after the initial set (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classifier", default="head", choices=list(classifiers.CLASSIFIERS),
                   help="head: fast head on frozen embeddings; otherwise the family retrained every round")
    p.add_argument("--model", default=None, help="base model (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--head", choices=list(heads.HEADS), help="scikit-learn head (head and setfit)")
    p.add_argument("--head-c", type=float, default=10.0, help="inverse regularisation of the logistic head")
    p.add_argument("--class-names", action=argparse.BooleanOptionalAction, default=True,
                   help="count each class name as one labeled example (the app's default)")
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
    p.add_argument("--multilabel", action="store_true",
                   help="multi-label data: the label column (default labels) holds sets joined by | or ; or JSON lists")
    p.add_argument("--ml-strategy", default=multilabel.DEFAULT_STRATEGY, choices=multilabel.STRATEGIES,
                   help=f"with --multilabel: the query strategy (default {multilabel.DEFAULT_STRATEGY})")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--schedule", choices=["rounds", "app"], default="rounds",
                   help="rounds: retrain after every batch (learning curves); app: the app's own cadence on a "
                        "clock: head refits, and full retrains of the project family (setfit, or --classifier) "
                        "at the app's interval and time budget; --settings replaces the head options")
    p.add_argument("--labels", type=int, default=200, help="--schedule app: labels the simulated annotator gives")
    p.add_argument("--seconds-per-label", type=float, default=5.0, help="--schedule app: the annotator's pace")
    p.add_argument("--settings", help='--schedule app: project settings as JSON, e.g. \'{"retrain_every": 100}\'')
    p.add_argument("--out", help="write the whole result (every step or version) here as JSON")
    p.set_defaults(func=cmd_simulate)
    return root


def main(argv: list[str] | None = None) -> None:
    config.apply_hub_mode()
    root = parser()
    args, extra = root.parse_known_args(argv)
    if args.command == "run":
        args.streamlit_args = extra
    elif extra:
        root.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        args.func(args)
    except auth.AuthError as err:  # a refused sign-in or role: one sentence, no traceback
        sys.exit(f"error: {err}")
