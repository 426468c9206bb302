"""Small helpers shared by the Streamlit pages (kept out of core: they use streamlit)."""
import functools
import re
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from core import store
from core.plain_text import neutral
from core.jobs import kinds
from ui import state

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all
# also disarms Streamlit's own syntax ($ for LaTeX, :color[...] and :emoji: directives).
_MARKUP = re.compile(r"([!-/:-@\[-`{-~])")


# GitHub-flavoured Markdown turns bare URLs, www. names and e-mail addresses into links after
# escapes are resolved, so escaping cannot stop it: an invisible WORD JOINER (U+2060) before the
# colon, the dot or the @ breaks the pattern without changing what people read.
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=ftp)(?=:)|(?<=mailto)(?=:)|(?<=xmpp)(?=:)"
                       r"|(?<=www)(?=\.)|(?=@)")


def plain(text: str) -> str:
    """`text` escaped so that Streamlit's Markdown shows it literally (titles, labels, captions,
    button and radio labels): no formatting, LaTeX, colours, emoji codes or links, and no
    bidirectional controls (`core.plain_text`)."""
    return _MARKUP.sub(r"\\\1", _AUTOLINK.sub("\u2060", neutral(text))).replace("\n", " ")


def text(value: str, where=st) -> None:
    """A user string (a text to label, guidelines) as plain text in `where` (st, a column): st.text
    parses nothing; the bidirectional controls go too."""
    where.text(neutral(value))


def table(rows) -> pd.DataFrame:
    """Rows (dicts or a DataFrame) for st.dataframe with every string cell neutral: cells are
    never Markdown, but an override character in a name would still reverse it."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    return frame.map(lambda v: neutral(v) if isinstance(v, str) else v)


def file_stem(project: dict) -> str:
    """A safe download file name stem from the project's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", project["name"]).strip("-.") or "project"


def title(page: str, project: dict | None = None) -> None:
    """A page title with the project's name shown as plain text."""
    st.title(f"{page} · {plain(project['name'])}" if project else page)


def current_project(db) -> dict:
    """The project picked in the sidebar; stops the page with a hint when there is none."""
    project_id = st.session_state.get(state.PROJECT_ID)
    project = store.project(db, project_id) if project_id is not None else None
    if project is None:
        from core.team import auth

        signed_in = st.session_state.get("actor")  # None in single-user mode: the local admin
        if signed_in is None or auth.allowed(db, signed_in, auth.MANAGE_PROJECTS):
            st.info("There is no project yet: create one on the Projects page first.")
            st.page_link("ui/pages/projects.py", label="Create a project", icon=":material/add:")
        else:
            st.info("No project is open to you yet: an admin assigns projects on the Team page.")
        st.stop()
    return project


def failure_lines(db, project_id: int, limit: int = 2) -> list[str]:
    """Sidebar captions for the project's failed jobs: each stays in view until a later job of its
    kind succeeds, and its message says why it failed and after how many attempts."""
    return [f":red[The {kinds.name(job)} failed]: {plain(job['message'])}"
            for job in store.unresolved_failures(db, project_id)[:limit]]


def actor():
    """Who is acting in this session: the signed-in user, or in single-user mode the local admin
    under the name typed in the sidebar (app.py sets it on every run)."""
    from core.team import auth

    return st.session_state.get(state.ACTOR) or auth.local_actor(annotator())


def annotator() -> str:
    """The name labels are recorded under in this session."""
    return st.session_state.get(state.ANNOTATOR, "annotator")


def can(db, permission: str, project_id: int | None = None) -> bool:
    """Whether this session's actor may do `permission` (core's `auth.allowed`): pages hide what it
    would refuse. Hiding is a courtesy; `core` still checks every call."""
    from core.team import auth

    return auth.allowed(db, actor(), permission, project_id)


@contextmanager
def refusals(*also: type[Exception]):
    """Put around every call into `core` that changes data: a refusal (`auth.AuthError`: the role,
    the project assignment, a deactivated or signed-out account), or one of `also`, is shown as one
    plain sentence instead of a traceback, and the rest of the block is skipped.

    In a widget callback the sentence appears at the top of the page on the rerun that follows."""
    from core.team import auth

    try:
        yield
    except (auth.AuthError, *also) as err:
        st.error(plain(str(err)), icon=":material/block:")


def callback(fn):
    """For a widget callback that changes data. Callbacks run before app.py checks the session, with the
    actor of the page's last run: after Sign out in another tab, core refuses that actor (auth.require)
    and this skips the callback without a word, so the run that follows shows the sign-in page instead
    of a refusal (issue 19 item 6)."""
    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        from core.team import auth

        held = st.session_state.get(state.ACTOR)
        if held is not None and held.session is not None and not auth.session_live(store.connect(), held):
            return None
        return fn(*args, **kwargs)

    return guarded
