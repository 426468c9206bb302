"""Export: labels as CSV / JSONL / Parquet, the latest model as a zip."""
import tempfile
from pathlib import Path

import streamlit as st

from core import artifacts, io, store, training
import ui

db = store.connect()
project = ui.current_project(db)
project_id = project["id"]
st.title(f"Export · {project['name']}")

st.subheader("Labels")
count = store.label_count(db, project_id)
st.caption(f"{count:,} labeled texts (the latest label of each; undone labels are left out).")
fmt = st.radio("Format", io.EXPORT_FORMATS, horizontal=True)
st.download_button(f"Download labels ({fmt})", data=io.export_labels(db, project_id, fmt),
                   file_name=f"{project['name']}-labels.{fmt}", disabled=count == 0)

st.subheader("Model")
version = store.latest_version(db, project_id)
if version is None:
    st.info("No model version yet.")
else:
    st.caption(f"Version {version['number']} ({version['kind']}, {version['n_labels']} labels). Loads with "
               "`SetFitModel.from_pretrained(folder)`.")
    if st.button("Prepare model zip"):
        with tempfile.TemporaryDirectory() as scratch:
            folder = training.export_model(db, version["id"], Path(scratch) / "model")
            st.session_state.model_zip = (version["id"], artifacts.zip_dir(folder))
    prepared = st.session_state.get("model_zip")
    if prepared and prepared[0] == version["id"]:
        st.download_button("Download model (zip)", data=prepared[1],
                           file_name=f"{project['name']}-v{version['number']}.zip")
