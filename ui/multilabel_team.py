"""The Adjudicate and Team pages of a multi-label project (issue 21): conflicts and decisions per
label, agreement per label. The pages hand over to these; core computes everything
(`core.team.multilabel_quality`)."""
import time

import streamlit as st

from core import store
from core.labeling import multilabel
from core.team import auth, multilabel_quality, quality
import ui
from ui import state
from ui.jobs import show_job

DECIDE = ("in", "out")


def _set_words(labels: list[str]) -> str:
    return ", ".join(labels) if labels else "none of these"


def agreement_section(db, project_id: int, actor) -> None:
    """Agreement per label and overall, from the latest analysis (the worker measures it)."""
    st.subheader("Agreement per label")
    if ui.can(db, auth.REVIEW, project_id) and st.button(
            "Measure agreement now", key="ml_agreement_go",
            help="The worker measures Krippendorff's alpha and Cohen's kappa on each label and over whole sets."):
        with ui.refusals():
            st.session_state[state.analysis_job(project_id)] = quality.request_analysis(db, actor, project_id)
    job_id = st.session_state.get(state.analysis_job(project_id))
    job = store.job(db, job_id) if job_id else None
    if job is not None and job["status"] in (store.JobStatus.QUEUED, store.JobStatus.RUNNING):
        show_job(job)
    report = multilabel_quality.report(db, project_id, actor)
    if report is None:
        st.caption("Not measured yet: press the button above (the worker measures it in the background).")
        return
    if not report.texts:
        st.caption("No text has two or more annotators yet: agreement needs overlap (Settings).")
        return
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.finished_at)) if report.finished_at else "?"
    st.caption(f"Over {report.texts} texts labeled by two or more annotators, measured {when}"
               + (" (labels were given since: measure again for the latest)." if report.stale else "."))
    st.dataframe(ui.table(report.overall), hide_index=True)
    st.dataframe(ui.table(report.per_label), hide_index=True)
    if report.pairs:
        st.dataframe(ui.table(report.pairs), hide_index=True)
    for note in report.notes:
        st.caption(ui.plain(note))


def adjudicate_page(db, project: dict, actor) -> None:
    project_id = project["id"]
    pending = multilabel_quality.conflicts(db, project_id, actor)
    st.caption(f"{len(pending)} {'text' if len(pending) == 1 else 'texts'} where annotators' sets differ on a label nobody decided yet. Decide each "
               "disputed label; until then a label counts when more than half the annotators gave it (a tie: left out).")
    version = store.current_version(db, project_id)
    names = store.class_names(db, project_id)
    if not pending:
        st.success("No disputed labels to settle.")
    for item in pending[:20]:
        with st.container(border=True):
            ui.text(store.example(db, item.example_id)["text"])
            for annotator, labels in sorted(item.votes.items()):
                st.markdown(f"- **{ui.plain(annotator)}**: {ui.plain(_set_words(labels))}")
            suggested = multilabel.suggested_labels(db, project_id, version, item.example_id) if version else None
            if suggested is not None:
                st.caption(f"Model (version {version['number']}): "
                           + ui.plain(_set_words([f"{n} ({p:.0%})" for n, p in suggested])))
            choices = {}
            for conflict in item.open:
                position = names.index(conflict.label)
                majority = ("tie: out until decided" if conflict.majority is None
                            else f"majority: {DECIDE[0] if conflict.majority else DECIDE[1]}")
                choices[conflict.label] = st.radio(
                    ui.plain(conflict.label), DECIDE, horizontal=True, key=f"mladj_{item.example_id}_{position}",
                    index=0 if conflict.majority else 1)
                st.caption(ui.plain(f"Given by {', '.join(conflict.given_by)}; left out by "
                                    f"{', '.join(conflict.left_out_by)} ({majority})."))
            reason = st.text_input("Why (optional)", key=f"mladj_reason_{item.example_id}")
            decide, majority_col = st.columns(2)
            if decide.button("Decide these labels", key=f"mladj_go_{item.example_id}", type="primary"):
                with ui.refusals(store.StoreError):
                    multilabel_quality.adjudicate_labels(db, actor, project_id, item.example_id,
                                                         {k: v == DECIDE[0] for k, v in choices.items()}, reason)
                    st.toast("Decided: " + ui.plain(", ".join(f"{k} {v}" for k, v in choices.items())))
                    st.rerun()
            if majority_col.button("Accept the majority for all", key=f"mladj_majority_{item.example_id}"):
                with ui.refusals(store.StoreError):
                    multilabel_quality.accept_majority(db, actor, project_id, item.example_id, reason)
                    st.toast("Decided by the majority.")
                    st.rerun()
    with ui.refusals():
        agreement_section(db, project_id, actor)


def team_section(db, project_id: int, actor) -> None:
    """The Team page's part for a multi-label project: agreement per label."""
    with ui.refusals():
        agreement_section(db, project_id, actor)

