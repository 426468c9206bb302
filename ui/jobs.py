"""The one job-progress widget: a running job as a bar with its name, message and time left; a
queued one as a caption. Every page and the sidebar show jobs through it."""
import streamlit as st

from core import store
from core.jobs import kinds
import ui


def show_line(line: kinds.JobLine) -> None:
    if line.running:
        st.progress(line.fraction, text=ui.plain(line.text))
    else:
        st.caption(ui.plain(line.text))


def show_job(job: dict) -> None:
    """One job (running, or waiting in the queue)."""
    show_line(kinds.status_line(job, store.now()))


def show_jobs(jobs: list[dict]) -> None:
    """A project's active jobs: running ones each with a bar, identical queued ones as one line with a count."""
    for line in kinds.status_lines(jobs, store.now()):
        show_line(line)
