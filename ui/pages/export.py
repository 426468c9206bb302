"""Export: labels as CSV / JSONL / Parquet, a model version as a zip (prepared by the worker)."""
from pathlib import Path

import streamlit as st

from core import store
from core.files import exports, hf_datasets, model_export
from core.labeling import scheduling
from core.learning import classifiers
import ui
from ui import state
from ui.jobs import show_job

db = store.connect()
project = ui.current_project(db)
project_id = project["id"]
ui.title("Export", project)

st.subheader("Labels")
count = store.label_count(db, project_id)
st.caption(f"{count:,} labeled texts (the latest label of each; undone labels are left out).")
fmt = st.radio("Format", exports.EXPORT_FORMATS, horizontal=True)
with ui.refusals():
    st.download_button(f"Download labels ({fmt})", data=exports.export_labels(db, ui.actor(), project_id, fmt),
                       file_name=f"{ui.file_stem(project)}-labels.{fmt}", disabled=count == 0)
if st.button("Prepare Hugging Face dataset (zip)", disabled=count == 0,
             help="A datasets directory (save_to_disk) with a ClassLabel of the project's classes and the eval "
                  "sample as its own split; load it with datasets.load_from_disk. The worker prepares it."):
    with ui.refusals():
        st.session_state[state.dataset_job(project_id)] = scheduling.request_dataset_export(db, ui.actor(), project_id)


@st.fragment(run_every="1s")
def dataset_status() -> None:
    job_id = st.session_state.get(state.dataset_job(project_id))
    job = store.job(db, job_id) if job_id else None
    if job is None or job["project_id"] != project_id:
        return
    ready = hf_datasets.latest(db, project_id)
    if job["status"] == store.JobStatus.DONE and ready is not None:
        st.download_button("Download Hugging Face dataset (zip)", data=Path(ready["path"]).read_bytes(),
                           file_name=f"{ui.file_stem(project)}-dataset.zip")
    elif job["status"] == store.JobStatus.FAILED:
        st.error(f"The dataset export failed: {ui.plain(job['message'])}")
    elif job["status"] in (store.JobStatus.QUEUED, store.JobStatus.RUNNING):
        show_job(job)


dataset_status()

st.subheader("Model")
version = store.current_version(db, project_id)
if version is None:
    st.info("No model version yet.")
    st.stop()
family = model_export.export_family(db, version)
pinned = store.pin(db, project_id)
st.caption(f"Version {version['number']} ({version['kind']}, {version['n_labels']} labels"
           + (f", pinned by {ui.plain(pinned['pinned_by'])}" if pinned else ", the newest") + "). The folder in the zip "
           f"loads without Sieve: `{classifiers.loader(family)}`.")
if st.button("Prepare model zip", help="The worker writes the zip; labeling goes on meanwhile."):
    with ui.refusals():
        st.session_state[state.export_job(project_id)] = scheduling.request_export(db, ui.actor(), project_id,
                                                                                   version["id"])


@st.fragment(run_every="1s")
def export_status() -> None:
    ready = model_export.latest_export(db, project_id, version["id"])
    if ready is not None:
        st.download_button("Download model (zip)", data=Path(ready["path"]).read_bytes(),
                           file_name=f"{ui.file_stem(project)}-v{version['number']}.zip", type="primary")
        return
    job_id = st.session_state.get(state.export_job(project_id))
    job = store.job(db, job_id) if job_id else None
    if job is None or job["project_id"] != project_id:
        return
    if job["status"] == store.JobStatus.FAILED:
        st.error(f"The export failed: {ui.plain(job['message'])}")
    elif job["status"] in (store.JobStatus.RUNNING, store.JobStatus.QUEUED):
        show_job(job)


export_status()
