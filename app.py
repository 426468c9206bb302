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
annotate_first = not can(auth.MANAGE_PROJECTS)
# (file stem, title, icon, offered to this role), in sidebar order.
PAGES = [("projects", "Projects", ":material/folder:", can(auth.MANAGE_PROJECTS)),
         ("annotate", "Annotate", ":material/label:", True),
         # Disagreements need two annotators, so only a team (accounts) has something to adjudicate.
         ("adjudicate", "Adjudicate", ":material/gavel:", team and can(auth.ADJUDICATE)),
         ("review", "Review", ":material/fact_check:", can(auth.REVIEW)),
         ("model", "Model", ":material/monitoring:", True),
         ("export", "Export", ":material/download:", can(auth.EXPORT)),
         ("settings", "Settings", ":material/tune:", can(auth.SETTINGS)),
         ("team", "Team", ":material/group:", can(auth.USERS))]


def not_for_this_role() -> None:
    st.title("Not available")
    st.info("Your role does not include this page. Pick a page in the sidebar.")


offered = [st.Page(f"ui/pages/{stem}.py", title=title, icon=icon, default=stem == "projects")
           for stem, title, icon, allowed in PAGES if allowed]
if annotate_first:  # "/" is Annotate for a role without Projects, and /annotate stays Annotate (a link an admin copied)
    offered.append(st.Page("ui/pages/annotate.py", title="Annotate", url_path="start", default=True,
                           visibility="hidden"))
# A link to a page this role does not have opens a plain sentence, not Streamlit's "Page not found" dialog.
offered += [st.Page(not_for_this_role, title="Not available", url_path=stem, visibility="hidden")
            for stem, _, _, allowed in PAGES if not allowed]
navigation = st.navigation(offered)

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
