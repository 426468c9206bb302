"""Sieve: the Streamlit entry point. Run with `streamlit run app.py`.

The UI only reads and writes the store; training happens in the worker process, which
this app starts by itself when no live worker is found.
"""
from pathlib import Path

import streamlit as st

from core import store
from core.plain_text import neutral
from core.jobs import worker
from core.team import auth
import ui
from ui import signin, state
from ui.jobs import show_jobs

st.set_page_config(page_title="Sieve", page_icon=":material/filter_alt:", layout="wide")
db = store.connect()
params = st.query_params

# Team mode (once an admin account exists): the session token comes from the HttpOnly cookie that the
# sign-in set through serve.py's route (ui/signin.py), never from the URL; an old `?session=` is dropped
# unread. Without a live session only the sign-in page is served. Single-user mode acts as a local
# admin under the name typed in the sidebar, as before accounts existed.
team = auth.team_mode(db)
if "session" in params:
    del params["session"]
# (AppTest cannot send cookies: tests put a token in session state, which never leaves the server.)
token = signin.token() or st.session_state.get(state.SESSION_TOKEN)
actor = auth.session_actor(db, token) if team else None
if team and actor is None:
    st.session_state.pop(state.ACTOR, None)
    st.session_state.pop(state.SESSION_TOKEN, None)
    # Every page's address serves the sign-in page and keeps its path and query (nothing of the page
    # itself runs), so the reload after signing in lands where a deep link pointed (issue 19 item 4).
    login = "ui/pages/login.py"
    paths = sorted(p.stem for p in (Path(__file__).parent / "ui" / "pages").glob("*.py") if p.stem != "login")
    st.navigation([st.Page(login, title="Sign in", icon=":material/login:", default=True)]
                  + [st.Page(login, title="Sign in", url_path=path) for path in paths], position="hidden").run()
    st.stop()
st.session_state[state.ACTOR] = actor

can = (lambda permission: auth.allowed(db, actor, permission)) if team else (lambda permission: True)
pages = [st.Page("ui/pages/projects.py", title="Projects", icon=":material/folder:", default=True)
         if can(auth.MANAGE_PROJECTS) else None,
         st.Page("ui/pages/annotate.py", title="Annotate", icon=":material/label:",
                 default=not can(auth.MANAGE_PROJECTS)),
         # Disagreements need two annotators, so only a team (accounts) has something to adjudicate.
         st.Page("ui/pages/adjudicate.py", title="Adjudicate", icon=":material/gavel:")
         if team and can(auth.ADJUDICATE) else None,
         st.Page("ui/pages/review.py", title="Review", icon=":material/fact_check:") if can(auth.REVIEW) else None,
         st.Page("ui/pages/model.py", title="Model", icon=":material/monitoring:"),
         st.Page("ui/pages/export.py", title="Export", icon=":material/download:") if can(auth.EXPORT) else None,
         st.Page("ui/pages/settings.py", title="Settings", icon=":material/tune:") if can(auth.SETTINGS) else None,
         st.Page("ui/pages/team.py", title="Team", icon=":material/group:") if can(auth.USERS) else None]
navigation = st.navigation([p for p in pages if p is not None])

# The project and the annotator's name live in the URL too, so a reload (or a bookmark) keeps them.
if state.ANNOTATOR not in st.session_state and params.get("name", "").strip():
    st.session_state[state.ANNOTATOR] = params["name"].strip()
if state.PROJECT_ID not in st.session_state and params.get("project", "").isdigit():
    st.session_state[state.PROJECT_ID] = int(params["project"])

with st.sidebar:
    projects = auth.visible_projects(db, actor) if team else store.projects(db)
    if projects:
        ids = [p["id"] for p in projects]
        current = st.session_state.get(state.PROJECT_ID)
        st.session_state[state.PROJECT_ID] = st.selectbox(
            "Project", ids, index=ids.index(current) if current in ids else len(ids) - 1,
            format_func={p["id"]: neutral(p["name"]) for p in projects}.get)
        params["project"] = str(st.session_state[state.PROJECT_ID])
    else:
        st.session_state[state.PROJECT_ID] = None
    if team:
        st.session_state[state.ANNOTATOR] = actor.name
        st.caption(f"Signed in as **{ui.plain(actor.name)}** ({actor.role})")
        if st.button("Sign out", icon=":material/logout:"):
            auth.logout(db, token)  # ends the session for every tab at once: core refuses its actor
            st.session_state.pop(state.SESSION_TOKEN, None)
            signin.clear()
    else:
        st.session_state[state.ANNOTATOR] = st.text_input("Your name", value=ui.annotator(),
                                                   help="Recorded with every label you give.").strip() or "annotator"
        params["name"] = st.session_state[state.ANNOTATOR]

    @st.fragment(run_every="2s")
    def job_status():
        if team and actor.session is not None and not auth.session_live(db, actor):
            st.rerun()  # signed out in another tab (or expired): the whole page goes to the sign-in page
        started = worker.ensure_worker(db)
        live = store.live_workers(db)
        if live:
            st.caption(f":green[●] Worker running on {live[0]['device']}")
        elif started == "external":
            st.caption(":orange[●] Waiting for an external worker (SIEVE_WORKER=external)")
        else:
            st.caption(":orange[●] Starting the worker…")
        project_id = st.session_state.get(state.PROJECT_ID)
        if project_id is None:
            return
        show_jobs(store.active_jobs(db, project_id))
        for line in ui.failure_lines(db, project_id):
            st.caption(line)

    job_status()

navigation.run()
