"""Review: labeled texts ranked by how likely their label is wrong (confident learning, computed by the worker)."""
import time

import streamlit as st

from core import store
from core.team import quality
from core.plain_text import neutral
import ui
from ui import state
from ui.jobs import show_job

db = store.connect()
project = ui.current_project(db)
project_id = project["id"]
actor = ui.actor()
ui.title("Review", project)
names = store.class_names(db, project_id)
analysis = quality.latest_analysis(db, project_id)
if st.button("Analyse labels now", help="The worker ranks every final label by out-of-fold predictions of the "
                                        "current model (cleanlab) and measures agreement."):
    with ui.refusals():
        st.session_state[state.analysis_job(project_id)] = quality.request_analysis(db, actor, project_id)


@st.fragment(run_every="1s")
def analysis_status() -> None:
    """While the worker analyses, say so; when it is done, show the new results at once."""
    job_id = st.session_state.get(state.analysis_job(project_id))
    job = store.job(db, job_id) if job_id else None
    if job is None:
        return
    if job["status"] in (store.JobStatus.QUEUED, store.JobStatus.RUNNING):
        show_job(job)
    else:
        del st.session_state[state.analysis_job(project_id)]
        if job["status"] == store.JobStatus.FAILED:
            st.error(ui.plain(f"The analysis failed: {job['message']}"))
        else:
            st.rerun(scope="app")


analysis_status()
if analysis is None:
    st.info("No analysis yet: press the button above; the worker runs it in the background.")
    st.stop()
agreement = analysis["agreement"]
st.caption(f"Analysed {time.strftime('%Y-%m-%d %H:%M', time.localtime(analysis['finished_at']))} over "
           f"{analysis['labels']} labels.")
if agreement["texts"]:
    alpha = agreement["alpha"]
    st.metric("Krippendorff's alpha", "n/a" if alpha is None else f"{alpha:.2f}",
              help=f"Over {agreement['texts']} texts labeled by two or more annotators.")
    st.dataframe(ui.table([{"annotators": f"{p['a']} / {p['b']}", "texts": p["texts"], "agreement": p["agreement"],
                            "Cohen's kappa": p["kappa"]} for p in agreement["pairs"]]), hide_index=True)
issues = quality.open_issues(db, project_id, analysis, actor)
st.subheader(f"Most suspicious labels ({len(issues)} not reviewed yet)")
for issue in issues[:15]:
    with st.container(border=True):
        ui.text(store.example(db, issue["example_id"])["text"])
        st.markdown(f"Label: **{ui.plain(issue['label'])}** · model suggests **{ui.plain(issue['suggested'])}** "
                    f"({issue['confidence']:.0%}) · label quality {issue['quality']:.2f}")
        reason = st.text_input("Why (optional)", key=f"rev_reason_{issue['example_id']}")
        keep, change, new = st.columns([1, 1, 2])
        target = new.selectbox("New label", names, key=f"rev_label_{issue['example_id']}", format_func=neutral,
                               index=names.index(issue["suggested"]) if issue["suggested"] in names else 0,  # renamed since
                               label_visibility="collapsed")
        decision = (issue["label"] if keep.button("Keep", key=f"rev_keep_{issue['example_id']}")
                    else target if change.button("Change", key=f"rev_change_{issue['example_id']}") else None)
        if decision is not None:
            with ui.refusals(store.StoreError):
                quality.adjudicate(db, actor, project_id, issue["example_id"], decision, reason, source=quality.REVIEW)
                st.rerun()
