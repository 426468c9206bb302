"""Adjudicate: texts whose annotators disagree, with both labels, who gave them and the model's view."""
import streamlit as st

from core import store
from core.labeling import annotate
from core.team import quality
import ui

db = store.connect()
project = ui.current_project(db)
project_id = project["id"]
actor = ui.actor()
ui.title("Adjudicate", project)
if project["kind"] == "multi":  # conflicts and decisions per label, agreement per label (issue 21)
    from ui import multilabel_team

    with ui.refusals():
        multilabel_team.adjudicate_page(db, project, actor)
    st.stop()
names = store.class_names(db, project_id)
pending = quality.disagreements(db, project_id, actor)
st.caption(f"{len(pending)} texts where annotators disagree and nobody decided yet. Ties have no final label "
           "(the model leaves them out) until you decide; majority labels count until then.")
if not pending:
    st.success("No disagreements to settle.")
    st.stop()
version = store.current_version(db, project_id)
for item in pending[:20]:
    with st.container(border=True):
        ui.text(store.example(db, item.example_id)["text"])
        for annotator, label in sorted(item.votes.items()):
            st.markdown(f"- **{ui.plain(annotator)}**: {ui.plain(label)}")
        view = annotate.suggestion(db, project_id, item.example_id)
        if version is not None and view is not None:
            st.caption(f"Model (version {version['number']}): {ui.plain(view[0])} ({view[1]:.0%})")
        choice = st.radio("Final label", names, horizontal=True, format_func=ui.plain,  # options are Markdown
                          key=f"adj_label_{item.example_id}",
                          index=names.index(quality.proposed_label(item)))
        reason = st.text_input("Why (optional)", key=f"adj_reason_{item.example_id}")
        if st.button("Decide", key=f"adj_go_{item.example_id}", type="primary"):
            with ui.refusals(store.StoreError):
                quality.adjudicate(db, actor, project_id, item.example_id, choice, reason)
                st.toast(f"Decided: {ui.plain(choice)}")
                st.rerun()
