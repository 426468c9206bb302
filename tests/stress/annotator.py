"""One annotator as its own OS process, labeling as fast as it can: the stress tests run many.

    python -m tests.stress.annotator --name ann3 --labels 40 --out ann3.json [--print-acks]

Uses only what the Annotate page uses (`core.labeling.annotate`): next_text, submit_label, and now
and then skip and undo_last (then labels the text again). Every label acknowledged
(submit_label returned) is recorded with its annotation id; with --print-acks it is also
printed, flushed, the moment submit_label returns, so a test that kill -9s this process
knows exactly which labels were promised. Any exception other than an AnnotationError
reaching this caller is recorded, never swallowed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core import store  # noqa: E402
from core.labeling import annotate
from core.team import auth

PROJECT = "stress"


def ms_since(t: float) -> float:
    return (time.perf_counter() - t) * 1000


def wait_for_go(go_file: str | None) -> None:
    """All processes start labeling together, after their (slow, parallel) imports."""
    print("ready", flush=True)
    while go_file and not os.path.exists(go_file):
        time.sleep(0.01)


def label_loop(args, out: dict) -> None:
    db = store.connect()
    project_id = store.project_by_name(db, PROJECT)["id"]
    # Team mode (the harness made accounts): sign in as this annotator; else single-user mode.
    password = os.environ.get("SIEVE_STRESS_PASSWORD")
    actor = auth.login(db, args.name, password).actor if password else auth.local_actor(args.name)
    classes = store.class_names(db, project_id)
    rng = random.Random(args.seed)
    acked, timings = out["acked"], out["ms"]
    while args.labels <= 0 or len(acked) < args.labels:
        t = time.perf_counter()
        shown = annotate.next_text(db, actor, project_id)
        timings["next_text"].append(ms_since(t))
        if shown is None:
            out["ran_out"] = True
            return
        out["shown"] += 1
        if rng.random() < args.skip_rate:
            t = time.perf_counter()
            annotate.skip(db, actor, project_id, shown.example_id)
            timings["skip"].append(ms_since(t))
            continue
        label = rng.choice(classes)
        t = time.perf_counter()
        annotation_id = annotate.submit_label(db, actor, project_id, shown, label, seconds=0.0)
        timings["submit_label"].append(ms_since(t))
        acked.append({"id": annotation_id, "example_id": shown.example_id, "label": label, "undone": False})
        if args.print_acks:
            print(f"ack {annotation_id} {shown.example_id} {label}", flush=True)
        if rng.random() < args.undo_rate:
            t = time.perf_counter()
            again = annotate.undo_and_show(db, actor, project_id)
            timings["undo"].append(ms_since(t))
            if again is None or again.example_id != shown.example_id:
                raise AssertionError(f"undo gave back {again and again.example_id}, not {shown.example_id}")
            acked[-1]["undone"] = True
            if args.print_acks:
                print(f"undone {annotation_id}", flush=True)  # its row stays: annotations are append-only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True)
    parser.add_argument("--labels", type=int, default=40, help="stop after this many labels (0: until killed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-rate", type=float, default=0.05)
    parser.add_argument("--undo-rate", type=float, default=0.05)
    parser.add_argument("--go-file")
    parser.add_argument("--out")
    parser.add_argument("--print-acks", action="store_true")
    args = parser.parse_args()
    out = {"name": args.name, "acked": [], "ms": {"next_text": [], "submit_label": [], "skip": [], "undo": []},
           "shown": 0, "refused": [], "errors": [], "ran_out": False}
    wait_for_go(args.go_file)
    started = time.perf_counter()
    try:
        label_loop(args, out)
    except annotate.AnnotationError as err:  # a message the page would show: counted, and it ends this run
        out["refused"].append(f"{type(err).__name__}: {err}")
    except Exception:  # what would reach the page as a traceback
        out["errors"].append(traceback.format_exc())
    out["seconds"] = time.perf_counter() - started
    if args.out:
        Path(args.out).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
