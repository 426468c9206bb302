"""Model: how good the model is (eval sample with intervals), when to stop, versions, Train now."""
import altair as alt
import pandas as pd
import streamlit as st

from core import classifiers, model_report, scheduling, stopping, store
import ui

db = store.connect()
project = ui.current_project(db)
project_id = project["id"]
ui.title("Model", project)
family_title = classifiers.TITLES[project["settings"].family]

if st.button(f"Train now ({family_title})", type="primary",
             help=f"Train the full model ({family_title}) on every label given so far, re-embed the pool and "
                  "refit the quick model. Labeling goes on meanwhile."):
    st.toast(ui.plain(scheduling.train_now(db, ui.actor(), project_id).message))


def eval_chart(rows: list[dict]) -> alt.Chart:
    """Eval accuracy and macro-F1 against labels, each with its 95 % interval as a band."""
    data = pd.DataFrame(rows)
    base = alt.Chart(data).encode(
        x=alt.X("labels:Q", title="labels", axis=alt.Axis(format="d", tickMinStep=1)), color=alt.Color("metric:N", title=None, legend=alt.Legend(orient="top")))
    band = base.mark_area(opacity=0.2).encode(y=alt.Y("low:Q", title="on the eval sample", scale=alt.Scale(
        domain=[0, 1])), y2="high:Q")
    line = base.mark_line(point=True).encode(
        y="value:Q", tooltip=["version", "labels", "metric", alt.Tooltip("value:Q", format=".3f"),
                              alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f"),
                              "eval texts"])
    return (band + line).properties(height=280)


@st.fragment(run_every="2s")
def live():
    for job in store.active_jobs(db, project_id):
        if job["status"] == store.RUNNING:
            st.progress(min(max(job["progress"], 0.0), 1.0),
                        text=f"{job['kind']} job {job['id']}: {ui.plain(job['message'])}")
        else:
            st.caption(f"Queued: {job['kind']} job {job['id']} ({ui.plain(job['params'].get('reason', ''))})")
    versions = store.versions(db, project_id)
    if not versions:
        st.info("No model yet. The first version trains after a few labels of at least two classes.")
        return
    served = store.current_version(db, project_id)

    st.subheader("How good is it?")
    curve = model_report.learning_curve(versions)
    if curve:
        m = served["metrics"]
        left, right = st.columns(2)
        if "eval_accuracy" in m:
            left.metric(f"Eval accuracy ({m['eval_n']} eval texts)", f"{m['eval_accuracy']:.0%}",
                        help="95 % confidence interval")
            left.caption(f"95 % interval: {m['eval_accuracy_low']:.0%} to {m['eval_accuracy_high']:.0%}")
            right.metric("Eval macro-F1", f"{m['eval_macro_f1']:.2f}")
            if "eval_macro_f1_low" in m:
                right.caption(f"95 % interval: {m['eval_macro_f1_low']:.2f} to {m['eval_macro_f1_high']:.2f}")
            else:
                right.caption("Interval shown from 10 eval texts on.")
        st.altair_chart(eval_chart(curve), width="stretch")
        st.caption("Measured on the eval sample: random texts the model never picks, labeled as they come up "
                   "while annotating. The bands are 95 % confidence intervals; they narrow as more eval texts "
                   "are labeled.")
    else:
        st.info("No eval figures yet: label some eval texts (one text in ten on the Annotate page comes from the "
                "eval sample) to see an honest accuracy estimate.")
    with st.expander("Cross-validated figures (secondary: biased low)"):
        cv = model_report.cross_validated_curve(versions)
        if cv:
            st.altair_chart(alt.Chart(pd.DataFrame(cv)).mark_line(point=True).encode(
                x="labels:Q", y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="cross-validated"),
                color=alt.Color("metric:N", title=None)).properties(height=220), width="stretch")
        st.caption("Cross-validation on the labeled texts. The model chose those texts because they were the "
                   "hardest, so these figures run lower than its real accuracy; use them only to compare versions.")

    st.subheader("Should you stop labeling?")
    for signal in stopping.signals(versions, project["settings"].label_budget):
        (st.success if signal.fired else st.info)(signal.explanation, icon=":material/flag:" if signal.fired else None)

    st.subheader("Versions")
    st.dataframe(pd.DataFrame(model_report.version_rows(versions, served["id"])), hide_index=True, width="stretch")
    st.caption("● marks the version served to annotators and exported: the one trained on the newest labels.")


live()

with st.expander("Recent jobs"):
    st.dataframe(pd.DataFrame([{k: j[k] for k in ("id", "kind", "status", "attempts", "message")}
                               for j in store.jobs(db, project_id, 20)]), hide_index=True, width="stretch")
