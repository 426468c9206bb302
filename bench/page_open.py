"""Page-open times and pin/unpin latency in a real Chromium (issue 20 item 6: under 2 s each).

    nice -n 10 python bench/page_open.py --pool 2000 --labels 120 --repeats 3
    nice -n 10 python bench/page_open.py --synthetic 40 --pool 8000 --labels 316   # a long session's state

Creates a project of `--pool` SST-2 texts through core and gives `--labels` gold labels (pool and
eval texts, as annotating does), starts the app the way a user does (`streamlit run app.py`, which
spawns its worker) and waits until the pool is embedded and the worker has published a version on
the newest labels. With `--synthetic N` the project is instead the state a long session leaves
(bench/page_state.py: movie reviews, N versions with random probabilities, no training), made
in seconds. Then, for every page:

  - open: a fresh browser tab loads the page's URL; time to the page's main content (its title and
    the element that carries it: the text to label, the figures, the Save button, ...);
  - switch: a click on the page in the sidebar of an open session; time to the same content.

and on the Model page's Versions tab: pin (click -> the "pinned" banner shown) and unpin (click ->
banner and the word "pinned" gone). Times are medians (and max) over `--repeats`. The load average
is printed: figures from a loaded box are not comparable with a quiet one's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pandas as pd  # noqa: E402

from tests.browser import harness  # noqa: E402

BUDGET_S = 2.0
# Each page's main content: its h1 starts with the title and this element is in the main area.
PAGES = {
    "Projects": ("", '[data-testid="stMain"] [data-testid="stDataFrame"]'),
    "Annotate": ("annotate", harness.SHOWN_TEXT),
    "Review": ("review", '[data-testid="stMain"] [data-testid="stButton"]'),
    "Model": ("model", '[data-testid="stMain"] [data-testid="stMetric"]'),
    "Export": ("export", '[data-testid="stMain"] [data-testid="stDownloadButton"]'),
    "Settings": ("settings", '[data-testid="stMain"] [data-testid="stBaseButton-primary"]'),
}
SHOWN = """([title, selector]) => { const h = document.querySelector('[data-testid="stMain"] h1');
    if (!h || !h.innerText.startsWith(title)) return false;
    const e = document.querySelector(selector); return !!(e && e.offsetParent !== null); }"""


def load_note() -> str:
    one, five, _ = os.getloadavg()
    cores = os.cpu_count() or 1
    loaded = " (the box is LOADED: figures run slower than on a quiet machine)" if one > 0.7 * cores else ""
    return f"load average {one:.1f} / {five:.1f} (1 / 5 min) on {cores} cores{loaded}"


def seed(data_dir: Path, pool: int, labels: int) -> tuple[int, dict]:
    from core import config, store
    from core.files import imports
    from core.labeling import annotate
    from core.team import auth

    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    frame = pd.read_csv(config.datasets_dir() / "sst2" / "train.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["label"].isin(["positive", "negative"])].assign(text=lambda f: f["text"].str.strip())
    frame = frame[frame["text"] != ""].drop_duplicates("text").sample(n=pool, random_state=0)
    gold = dict(zip(frame["text"], frame["label"]))
    db = store.connect()
    project_id = imports.create_project_from_plan(db, auth.local_actor(), "sst2",
                                                  imports.plan_import(frame, "text", None, ["positive", "negative"]))
    texts = store.texts_by_id(db, store.example_ids(db, project_id))
    eval_ids = store.example_ids(db, project_id, store.Split.EVAL)[: labels // 5]
    pool_ids = store.example_ids(db, project_id, store.Split.POOL)[: labels - len(eval_ids)]
    for example_id in pool_ids + eval_ids:
        annotate.submit_label(db, auth.local_actor("bench"), project_id, annotate.NextText.direct(example_id),
                              gold[texts[example_id]], seconds=3.0)
    return project_id, gold


def timed(page, action, title: str, selector: str) -> float:
    start = time.perf_counter()
    action()
    page.wait_for_function(SHOWN, arg=[title, selector], polling="raf", timeout=60_000)
    return time.perf_counter() - start


def summary(values: list[float]) -> str:
    flag = "" if statistics.median(values) <= BUDGET_S else f"  OVER {BUDGET_S:.0f} s"
    return f"median {statistics.median(values):5.2f} s, max {max(values):5.2f} s{flag}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--labels", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=0, metavar="VERSIONS",
                        help="seed a long session's state with this many versions instead of training")
    args = parser.parse_args()

    from core import store

    data_dir = Path(tempfile.mkdtemp(prefix="sieve-bench-pages-")) / "data"
    if args.synthetic:
        from bench.page_state import seed_long_session

        os.environ["SIEVE_DATA_DIR"] = str(data_dir)
        project_id, _ = seed_long_session(args.pool, args.labels, args.synthetic)
    else:
        project_id, _ = seed(data_dir, args.pool, args.labels)
    db = store.connect()
    from playwright.sync_api import sync_playwright

    with harness.App(data_dir) as app, sync_playwright() as playwright:
        browser = harness.launch(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        harness.goto(page, app.url)  # this spawns the worker
        started = time.time()
        newest = store.max_annotation_id(db, project_id)
        while True:
            version = store.latest_version(db, project_id)
            if version is not None and store.latest_encoder(db, project_id) is not None \
                    and version["label_watermark"] >= newest:
                break
            if time.time() - started > 900:
                raise SystemExit("no version on the newest labels within 15 minutes")
            time.sleep(1)
        print(f"{args.pool} texts, {args.labels} labels, {len(store.versions(db, project_id))} versions"
              f"{' (synthetic)' if args.synthetic else ''}; pool embedded and a version published "
              f"{time.time() - started:.0f} s after the app was opened")
        print(load_note())
        query = f"?project={project_id}&name=bench"
        results: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.repeats):
            for name, (path, selector) in PAGES.items():
                tab = context.new_page()
                results.setdefault(name, {}).setdefault("open", []).append(
                    timed(tab, lambda: tab.goto(f"{app.url}/{path}{query}"), name, selector))
                tab.close()
            harness.goto(page, f"{app.url}/{query}")
            for name, (_, selector) in PAGES.items():
                link = page.locator('[data-testid="stSidebarNav"] a', has_text=name).first
                results[name].setdefault("switch", []).append(timed(page, link.click, name, selector))
                harness.wait_idle(page)

        print(f"\nTime to the page's main content (budget {BUDGET_S:.0f} s), {args.repeats} repeats:")
        for name, times in results.items():
            print(f"  {name:9s} open: {summary(times['open'])}   switch: {summary(times['switch'])}")

        harness.goto(page, f"{app.url}/model{query}")
        page.wait_for_function(SHOWN, arg=["Model", PAGES["Model"][1]], timeout=60_000)
        harness.wait_idle(page)
        page.get_by_role("tab", name="Versions").click()
        pins, unpins = [], []
        banner = "() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('is pinned by')"
        gone = ("() => { const t = document.querySelector('[data-testid=\"stMain\"]').innerText;"
                " return !t.includes('is pinned by') && !/\\bpinned\\b/.test("
                "[...document.querySelectorAll('[data-testid=\"stDataFrame\"]')].map(e => e.innerText).join(' ')); }")
        for _ in range(args.repeats):
            start = time.perf_counter()
            page.get_by_role("button", name="Pin this version").click()
            page.wait_for_function(banner, polling="raf", timeout=60_000)
            pins.append(time.perf_counter() - start)
            harness.wait_idle(page)
            start = time.perf_counter()
            page.get_by_role("button", name="Unpin: follow the newest").click()
            page.wait_for_function(gone, polling="raf", timeout=60_000)
            unpins.append(time.perf_counter() - start)
            harness.wait_idle(page)
        print(f"  pin   (click -> 'pinned' banner):        {summary(pins)}")
        print(f"  unpin (click -> no 'pinned' on the page): {summary(unpins)}")
        print(load_note())
        browser.close()


if __name__ == "__main__":
    main()
