"""Small helpers shared by the Streamlit pages (kept out of core: they use streamlit)."""
import streamlit as st

from core import store


def current_project(db) -> dict:
    """The project picked in the sidebar; stops the page with a hint when there is none."""
    project_id = st.session_state.get("project_id")
    project = store.project(db, project_id) if project_id is not None else None
    if project is None:
        st.info("Create a project on the Projects page first.")
        st.stop()
    return project
