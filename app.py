"""Sieve: the Streamlit entry point. Run with `streamlit run app.py`.

The UI only reads and writes the store; training happens in the worker process, which
this app starts by itself when no live worker is found.
"""
import streamlit as st

import ui
from core import store, worker

st.set_page_config(page_title="Sieve", page_icon=":material/filter_alt:", layout="wide")
db = store.connect()

pages = [
    st.Page("pages/projects.py", title="Projects", icon=":material/folder:", default=True),
    st.Page("pages/annotate.py", title="Annotate", icon=":material/label:"),
    st.Page("pages/model.py", title="Model", icon=":material/monitoring:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
    st.Page("pages/settings.py", title="Settings", icon=":material/tune:"),
]
navigation = st.navigation(pages)

# The project and the annotator's name live in the URL too, so a reload (or a bookmark) keeps them.
params = st.query_params
if "annotator" not in st.session_state and params.get("name", "").strip():
    st.session_state.annotator = params["name"].strip()
if "project_id" not in st.session_state and params.get("project", "").isdigit():
    st.session_state.project_id = int(params["project"])

with st.sidebar:
    projects = store.projects(db)
    if projects:
        ids = [p["id"] for p in projects]
        current = st.session_state.get("project_id")
        st.session_state.project_id = st.selectbox(
            "Project", ids, index=ids.index(current) if current in ids else len(ids) - 1,
            format_func={p["id"]: p["name"] for p in projects}.get)
        params["project"] = str(st.session_state.project_id)
    else:
        st.session_state.project_id = None
    st.session_state.annotator = st.text_input("Your name", value=st.session_state.get("annotator", "annotator"),
                                               help="Recorded with every label you give.").strip() or "annotator"
    params["name"] = st.session_state.annotator

    @st.fragment(run_every="2s")
    def job_status():
        state = worker.ensure_worker(db)
        live = store.live_workers(db)
        if live:
            st.caption(f":green[●] Worker running on {live[0]['device']}")
        elif state == "external":
            st.caption(":orange[●] Waiting for an external worker (SIEVE_WORKER=external)")
        else:
            st.caption(":orange[●] Starting the worker…")
        project_id = st.session_state.get("project_id")
        if project_id is None:
            return
        for job in store.active_jobs(db, project_id):
            if job["status"] == store.RUNNING:
                st.progress(min(max(job["progress"], 0.0), 1.0), text=f"{job['kind']}: {job['message']}")
            else:
                st.caption(f"queued: {job['kind']}")
        for line in ui.failure_lines(db, project_id):
            st.caption(line)

    job_status()

navigation.run()
