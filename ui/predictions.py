"""The Model page's "Predict on new data": upload a file, the worker predicts it, download the result.
Shared by single- and multi-label projects (core.files.predict knows the difference)."""
import streamlit as st

from core import store
from core.files import imports, predict
import ui
from ui import state
from ui.jobs import show_job


def predict_panel(db, project: dict, versions: list[dict], served: dict) -> None:
    project_id = project["id"]
    numbers = [v["number"] for v in reversed(versions)]
    if project["kind"] == "multi":
        st.markdown("Upload texts to classify (the same formats as an import). The worker predicts them; the file "
                    "comes back with each text's set of labels (every label at or above its threshold) and every "
                    "label's probability.")
    else:
        st.markdown("Upload texts to classify (the same formats as an import). The worker predicts them; the file "
                    "comes back with the predicted class, its confidence and every class's probability.")
    upload = st.file_uploader("File of texts", type=["csv", "tsv", "jsonl", "json", "parquet", "txt"],
                              key="predict_file")
    if upload is not None:
        try:
            table = imports.read_table(upload.getvalue(), upload.name)
        except imports.ImportFailed as err:
            st.error(ui.plain(str(err)))
            table = None
        if table is not None:
            columns = list(table.columns)
            c1, c2, c3 = st.columns(3)
            column = c1.selectbox("Text column", columns, index=columns.index("text") if "text" in columns else 0)
            version_number = c2.selectbox("Version", numbers, index=numbers.index(served["number"]),
                                          key="predict_version")
            fmt = c3.radio("Download as", predict.FORMATS, horizontal=True, key="predict_format")
            st.caption(f"{len(table):,} rows.")
            if st.button("Predict", type="primary"):
                with ui.refusals(predict.PredictFailed):
                    st.session_state[state.predict_job(project_id)] = predict.request_predict(
                        db, ui.actor(), project_id, {v["number"]: v for v in versions}[version_number]["id"],
                        table, column, fmt, upload.name)

    @st.fragment(run_every="1s")
    def prediction_status() -> None:
        job_id = st.session_state.get(state.predict_job(project_id))
        job = store.job(db, job_id) if job_id else None
        if job is None:
            return
        done = predict.finished(db, job_id)
        if done is not None:
            r = done["result"]
            fmt = done["params"]["format"]
            st.success(f"Predicted {r['n']:,} texts with version {r['number']}.")
            st.download_button(f"Download predictions ({fmt})", data=open(r["path"], "rb").read(),
                               file_name=f"{ui.file_stem(project)}-predictions-v{r['number']}.{fmt}", type="primary")
        elif job["status"] == store.JobStatus.FAILED:
            st.error(f"The prediction failed: {ui.plain(job['message'])}")
        else:
            show_job(job)

    prediction_status()
