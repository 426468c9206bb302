"""Model: versions, learning curve, Train now, job progress."""
import pandas as pd
import streamlit as st

from core import classifiers, scheduling, stopping, store
import ui

db = store.connect()
project = ui.current_project(db)
project_id = project["id"]
ui.title("Model", project)
family_title = classifiers.TITLES[project["settings"].family]

if st.button(f"Train now ({family_title})", type="primary",
             help=f"Train the full model ({family_title}) on every label given so far, re-embed the pool and "
                  "refit the head. Labeling goes on meanwhile."):
    st.toast(scheduling.train_now(db, project_id).message)


@st.fragment(run_every="2s")
def live():
    for job in store.active_jobs(db, project_id):
        if job["status"] == store.RUNNING:
            st.progress(min(max(job["progress"], 0.0), 1.0), text=f"{job['kind']} job {job['id']}: {job['message']}")
        else:
            st.caption(f"Queued: {job['kind']} job {job['id']} ({job['params'].get('reason', '')})")
    versions = store.versions(db, project_id)
    if not versions:
        st.info("No model yet. The first version trains after a few labels of at least two classes.")
        return
    rows = []
    for v in versions:
        m, t = v["metrics"], v["timings"]
        rows.append({
            "version": v["number"], "kind": v["kind"], "family": v["params"].get("family", "head"),
            "labels": v["n_labels"],
            "cv accuracy": m.get("cv_accuracy"), "cv macro-F1": m.get("cv_macro_f1"),
            "eval accuracy": m.get("eval_accuracy"), "kappa vs previous": m.get("kappa_previous"),
            "mean uncertainty": m.get("mean_uncertainty"),
            "train s": t.get("train_s"), "total s": t.get("total_s"),
            "created": pd.to_datetime(v["created_at"], unit="s").strftime("%Y-%m-%d %H:%M:%S"),
        })
    st.subheader("Should you stop labeling?")
    for signal in stopping.signals(versions, project["settings"].label_budget):
        (st.success if signal.fired else st.info)(signal.explanation, icon=":material/flag:" if signal.fired else None)
    frame = pd.DataFrame(rows)
    curve = frame.groupby("labels")[["cv accuracy", "cv macro-F1", "eval accuracy"]].last().dropna(axis=1, how="all")
    if len(curve) >= 2 and not curve.empty:
        st.subheader("Learning curve")
        st.line_chart(curve, x_label="labels", y_label="score")
        st.caption("Cross-validated figures are measured on the labels each version trained on, which the model "
                   "chose, so they can be optimistic; eval accuracy (when the project has an eval sample) is not.")
    st.subheader("Versions")
    st.dataframe(frame.iloc[::-1], hide_index=True, width="stretch")


live()

with st.expander("Recent jobs"):
    st.dataframe(pd.DataFrame([{k: j[k] for k in ("id", "kind", "status", "attempts", "message")}
                               for j in store.jobs(db, project_id, 20)]), hide_index=True, width="stretch")
