"""Run every page of the app through AppTest in this fresh process (a model export and the
transformer settings included), then print which heavy ML modules this process loaded.

Used by test_import_footprint.py: the UI process must never load torch, transformers, setfit
or scikit-learn (nor ray, the optional Ray backend). Expects SIEVE_DATA_DIR with one project whose pool a live worker embedded and
that has a head version.
"""
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
HEAVY = ("torch", "transformers", "setfit", "sklearn", "sentence_transformers", "ray")


def main() -> None:
    from streamlit.testing.v1 import AppTest

    from core import store

    db = store.connect()
    [project] = store.projects(db)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["annotator"] = "probe"
    at.run()
    problems = [str(e.value) for e in at.exception]
    for page in ("ui/pages/projects.py", "ui/pages/annotate.py", "ui/pages/model.py", "ui/pages/settings.py", "ui/pages/export.py",
                 "ui/pages/adjudicate.py", "ui/pages/review.py", "ui/pages/team.py"):
        try:
            at.switch_page(page).run()
            problems += [f"{page}: {e.value}" for e in at.exception]
        except ValueError:  # not in this mode's navigation (Adjudicate needs accounts): run the page by itself
            alone = AppTest.from_file(str(ROOT / page), default_timeout=60)
            alone.session_state["project_id"], alone.session_state["annotator"] = project["id"], "probe"
            alone.run()
            problems += [f"{page}: {e.value}" for e in alone.exception]
    at.switch_page("ui/pages/annotate.py").run()
    next(b for b in at.button if b.key and b.key.startswith("label_")).click().run()  # one label
    at.switch_page("ui/pages/settings.py").run()
    next(s for s in at.selectbox if s.label == "Model family").select("transformer").run()
    problems += [f"settings: {e.value}" for e in at.exception]
    at.switch_page("ui/pages/export.py").run()
    next(b for b in at.button if b.label == "Prepare model zip").click().run()
    deadline, export = time.time() + 240, None
    while time.time() < deadline:
        export = next((j for j in store.jobs(db, project["id"]) if j["kind"] == store.JobKind.EXPORT), None)
        if export and export["status"] in (store.JobStatus.DONE, store.JobStatus.FAILED):
            break
        time.sleep(1)
    at.run()  # renders the download button from the finished export
    problems += [f"export: {e.value}" for e in at.exception]
    print(json.dumps({"heavy": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY and "." not in m),
                      "problems": problems, "export": export and {k: export[k] for k in ("status", "message")},
                      "export_result": export and export["result"]}))


if __name__ == "__main__":
    main()
