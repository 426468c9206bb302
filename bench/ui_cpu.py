"""CPU the UI process (streamlit) spends per label and per idle minute, with the Annotate page
open in a real Chromium driven by the keyboard (issue 20 item 3 and its done-when).

    nice -n 10 python bench/ui_cpu.py --pool 1000 --labels 60 --idle 60

Creates a project of `--pool` SST-2 texts through core, starts the app the way a user does
(`streamlit run app.py`, which spawns its worker; the repository's .streamlit/config.toml, with
the file watcher off as it ships, and tests/browser/harness.py says so on the command line too),
waits for the pool embedding, opens Annotate and then measures the streamlit process's CPU time
(user + system, from /proc through psutil; the worker is a separate process and is reported
apart):

  - idle: the page left open, untouched, for `--idle` seconds (its 2-second fragments still run);
  - labeling: `--labels` key presses ("1"/"2", the gold label), each waited for until the next
    text is shown.

The load average is printed: on a loaded box CPU-seconds grow too (cache misses, contention),
less than wall-clock times do.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pandas as pd  # noqa: E402
import psutil  # noqa: E402

from tests.browser import harness  # noqa: E402


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def load_note() -> str:
    one, five, _ = os.getloadavg()
    cores = os.cpu_count() or 1
    loaded = " (the box is LOADED: other work competes for the cores)" if one > 0.7 * cores else ""
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min) on {cores} cores{loaded}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--labels", type=int, default=60)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds the page is left open, untouched")
    args = parser.parse_args()

    from core import config, store
    from core.files import imports
    from core.team import auth

    data_dir = Path(tempfile.mkdtemp(prefix="sieve-bench-cpu-")) / "data"
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    frame = pd.read_csv(config.datasets_dir() / "sst2" / "train.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["label"].isin(["positive", "negative"])].assign(text=lambda f: f["text"].str.strip())
    frame = frame[frame["text"] != ""].drop_duplicates("text").sample(n=args.pool, random_state=0)
    gold = dict(zip(frame["text"], frame["label"]))
    keys = {"positive": "1", "negative": "2"}
    db = store.connect()
    project_id = imports.create_project_from_plan(db, auth.local_actor(), "sst2",
                                                  imports.plan_import(frame, "text", None, list(keys)))
    from playwright.sync_api import sync_playwright

    app = harness.App(data_dir)
    app.start()
    try:
        with sync_playwright() as playwright:
            browser = harness.launch(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            harness.goto(page, f"{app.url}/?project={project_id}&name=bench")  # this spawns the worker
            started = time.time()
            while store.latest_encoder(db, project_id) is None:
                if time.time() - started > 900:
                    raise SystemExit("the pool was not embedded within 15 minutes")
                time.sleep(0.5)
            harness.open_page(page, "Annotate")
            ui = psutil.Process(app.process.pid)
            workers = [psutil.Process(pid) for pid in app.worker_pids()]
            print(f"{args.pool} texts embedded {time.time() - started:.0f} s after the app was opened; "
                  f"streamlit pid {ui.pid}, worker pid(s) {[w.pid for w in workers]}")
            print(load_note())

            time.sleep(5)  # let the page settle after the switch
            before, worker_before, t0 = cpu_seconds(ui), sum(map(cpu_seconds, workers)), time.time()
            time.sleep(args.idle)
            idle_cpu, idle_s = cpu_seconds(ui) - before, time.time() - t0
            idle_worker = sum(map(cpu_seconds, workers)) - worker_before
            print(f"idle Annotate page: {idle_cpu * 60 / idle_s:.2f} CPU-s per minute in the UI process "
                  f"({idle_cpu / idle_s:.1%} of a core; worker {idle_worker * 60 / idle_s:.2f} CPU-s/min), "
                  f"over {idle_s:.0f} s")

            before, worker_before, t0 = cpu_seconds(ui), sum(map(cpu_seconds, workers)), time.time()
            given = 0
            for _ in range(args.labels):
                text = harness.shown_text(page)
                if text is None:
                    break
                harness.press(page, keys[gold[text]])
                given += 1
            busy_cpu, busy_s = cpu_seconds(ui) - before, time.time() - t0
            busy_worker = sum(map(cpu_seconds, workers)) - worker_before
            print(f"labeling by keyboard: {given} labels in {busy_s:.0f} s; {busy_cpu / given:.3f} CPU-s per label "
                  f"in the UI process (worker {busy_worker / given:.3f} CPU-s per label: refits)")
            print(load_note())
            browser.close()
    finally:
        app.stop()


if __name__ == "__main__":
    main()
