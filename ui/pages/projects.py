"""Projects: create one from an uploaded file, add data, change settings."""
import pandas as pd
import streamlit as st

from core import store
from core.files import imports, multilabel_io
from core.settings import ProjectSettings
from core.team import projects
import ui
from ui import state

db = store.connect()
DEMO_TEXTS = 200  # a demo project of this many random texts is embedded and has a first model within a minute
st.title("Projects")


def show_error(message: str) -> None:
    """Import messages quote file and column names: shown exactly as written, never as Markdown."""
    st.error(ui.plain(message))


def read_upload(upload) -> pd.DataFrame:
    """The uploaded table, or a message and a stop. Says which encoding a non-UTF-8 file was
    read with and asks about a header row that looks like data, so a wrong guess is noticed."""
    try:
        frame = imports.read_table(upload.getvalue(), upload.name)
        if imports.encoding_detected(frame):
            st.caption(f"Read as {imports.encoding_label(frame)} (detected).")
        if imports.can_lack_header(frame):
            looks_like_data = imports.first_row_looks_like_data(frame)
            if looks_like_data:
                st.caption("The first row looks like data rather than column names.")
            if not st.checkbox("The first row is a header", value=not looks_like_data,
                               key=f"has_header_{upload.file_id}"):
                frame = imports.read_table(upload.getvalue(), upload.name, header=False)
    except imports.ImportFailed as err:
        show_error(str(err))
        st.stop()
    return frame


if flash := st.session_state.pop(state.PROJECTS_FLASH, None):
    st.success(ui.plain(flash))
if st.session_state.pop(state.PROJECT_CREATED, False):  # the next step, one click away
    st.page_link("ui/pages/annotate.py", label="Start labeling on the Annotate page", icon=":material/label:")
existing = store.project_table(db)
if not existing:  # the first run: what Sieve does and what to do, on this one screen
    st.subheader("Welcome to Sieve")
    st.markdown("Sieve builds a text classifier from as few labels as possible: you label, and it picks the "
                "texts that teach the model most, refits it in the background every few labels and shows "
                "how good it is.")
    steps = st.columns(3)
    steps[0].markdown("**1. Create a project** (below): upload a CSV, TSV, JSONL, JSON, Parquet or TXT file of "
                      "texts and name your classes.")
    steps[1].markdown("**2. Annotate**: press a class's key for each text shown; the model learns as you go.")
    steps[2].markdown("**3. Check and export**: the Model page shows accuracy on a held-out sample; Export gives "
                      "the labels and the model.")
    st.info(f"To try Sieve first, upload any file of yours and tick **Small demo**: a project of {DEMO_TEXTS} "
            "random texts from it is ready in seconds, and a first model follows after a few labels.")
if existing:
    st.dataframe(
        ui.table([{"project": p["name"], "texts": p["texts"], "labels": p["labels"],
                   "classes": ", ".join(p["classes"])} for p in existing]),
        hide_index=True, width="stretch")

create, add, manage = st.tabs(["New project", "Add data to the selected project", "Rename or delete"])

with create:
    # A new key after each creation gives an empty form: the one just used kept its file and every
    # field filled in, as if the project were still to be created (issue 20 item 6).
    created = st.session_state.get(state.CREATE_FORM, 0)
    upload = st.file_uploader("Texts to label", type=sorted({k.lstrip(".") for k in imports.FORMATS}),
                              key="new_upload" + (f"_{created}" if created else ""),
                              help="CSV, TSV, JSONL, JSON (a list of records), Parquet, or TXT with one text per line.")
    if upload is not None:
        frame = read_upload(upload)
        demo = len(frame) > DEMO_TEXTS and st.checkbox(
            f"Small demo: only {DEMO_TEXTS} random texts of the {len(frame):,}", key="demo",
            help="A quick project to try Sieve on: embedded in seconds. Create the full project later.")
        if demo:
            frame = frame.sample(n=DEMO_TEXTS, random_state=0).reset_index(drop=True)
        st.caption(f"{len(frame):,} rows. First rows:")
        st.dataframe(frame.head(5), hide_index=True)
        columns = list(frame.columns)
        guess = next((c for c in columns if c.lower() in ("text", "sentence", "content", "body")), columns[0])
        text_column = st.selectbox("Text column", columns, index=columns.index(guess))
        label_options = ["(none)"] + [c for c in columns if c != text_column]
        multi = st.radio("Project type", ["Single-label: one class per text", "Multi-label: a set of classes per text"],
                         key="project_kind", horizontal=True,
                         help="Fixed when the project is created. Multi-label: class keys toggle, Enter saves the "
                              "set, 0 answers “none of these”.").startswith("Multi")
        io_module = multilabel_io if multi else imports  # issue 21: a labels column of sets
        label_column = st.selectbox("Labels column (optional; sets joined by |, ; or a JSON list)" if multi else
                                    "Label column (optional: imports existing labels as gold labels)",
                                    label_options, index=0, key="label_column")
        label_column = None if label_column == "(none)" else label_column
        if label_column:
            try:
                labeled, arriving = io_module.labeled_count(frame, text_column, label_column)
            except imports.ImportFailed as err:
                show_error(str(err))
            else:
                st.text(f"{labeled:,} of {arriving:,} texts will arrive already labeled.")
            if multi and (hint := multilabel_io.separator_hint(frame, label_column)):
                st.warning(ui.plain(hint))
        found = io_module.label_classes(frame, label_column)
        class_spec = st.text_input("Classes (comma-separated)", value=imports.format_classes(found),
                                   key=f"class_spec_{label_column}" if label_column else "class_spec",
                                   help="At least two. Each gets a keyboard shortcut (1-9, 0, then letters). "
                                        'A class with a comma in its name goes in double quotes: "a, b". '
                                        "Name classes in words: each name, and its description below, counts "
                                        "as one labeled example, so the model knows every class from the start.")
        names = imports.parse_classes(class_spec)
        keys = imports.multi_shortcut_keys(len(names)) if multi else imports.shortcut_keys(len(names))
        details = st.data_editor(
            pd.DataFrame({"name": names, "shortcut": keys, "description": [""] * len(names)}),
            disabled=["name"], hide_index=True, key=f"classes_{'|'.join(names)}", width="stretch",
            column_config={"description": st.column_config.TextColumn(
                "description", help="Optional: a few words on what belongs in this class. Annotators see it, "
                                    "and the model learns from it along with the name.")},
        ) if names else pd.DataFrame(columns=["name", "shortcut", "description"])
        name = st.text_input("Project name", value=upload.name.rsplit(".", 1)[0] + (" demo" if demo else ""))
        guidelines = st.text_area("Guidelines for annotators (optional)")
        with st.expander("Advanced"):
            model = st.text_input("Encoder", value="default",
                                  help="'default' is the packaged all-MiniLM-L6-v2; any sentence-transformers "
                                       "model id (online) or local path works.")
            eval_percent = st.number_input(
                "Eval sample (% of unlabeled texts)", 0, 50, int(imports.DEFAULT_EVAL_FRACTION * 100),
                help=f"A random sample (at most {imports.EVAL_CAP} texts) the model never picks. One text in "
                     "ten you label comes from it, so the model's accuracy on it is an honest estimate.")
            refit_every = st.number_input("Refit the fast model every N labels", 1, 1000, 5)
        if st.button("Create project", type="primary"):
            with ui.refusals(imports.ImportFailed):
                plan = io_module.plan_import(frame, text_column, label_column, names)
                project_id = imports.create_project_from_plan(
                    db, ui.actor(), name, plan, details.to_dict("records"), guidelines, model.strip() or "default",
                    ProjectSettings(refit_every=int(refit_every)),
                    eval_fraction=eval_percent / 100, kind="multi" if multi else "single")
                st.session_state[state.PROJECT_ID] = project_id
                st.session_state[state.PROJECTS_FLASH] = (f"Created “{name.strip()}”: {plan.summary()}. Embedding runs in "
                                                   "the background; you can start labeling now.")
                st.session_state[state.PROJECT_CREATED] = True
                st.session_state[state.CREATE_FORM] = created + 1
                st.rerun()  # the sidebar and the table show the new project at once

selected = store.project(db, st.session_state[state.PROJECT_ID]) if st.session_state.get(state.PROJECT_ID) else None

with add:
    if selected is None:
        st.info("Create a project first.")
    else:
        project, project_id = selected, selected["id"]
        more = st.file_uploader(f"More texts for {ui.plain(project['name'])}",
                                type=sorted({k.lstrip(".") for k in imports.FORMATS}), key="add_upload")
        if more is not None:
            frame = read_upload(more)
            columns = list(frame.columns)
            text_column = st.selectbox("Text column", columns, key="add_text")
            label_column = st.selectbox("Label column", ["(none)"] + [c for c in columns if c != text_column],
                                        key="add_label")
            add_eval_percent = st.number_input(
                "Keep for the eval sample (% of the new unlabeled texts)", 0, 50, int(imports.DEFAULT_EVAL_FRACTION * 100),
                key="add_eval_percent",
                help=f"A random share of the new texts (at most {imports.EVAL_CAP}) joins the eval sample, which the "
                     "model never picks: more eval texts narrow the accuracy interval on the Model page.")
            if st.button("Add texts", type="primary"):
                with ui.refusals(imports.ImportFailed):
                    plan = (multilabel_io if project["kind"] == "multi" else imports).add_to_project(
                        db, ui.actor(), project_id, frame, text_column,
                        None if label_column == "(none)" else label_column, eval_fraction=add_eval_percent / 100)
                    kept = plan.eval_texts(add_eval_percent / 100)
                    st.success(ui.plain(f"Added {plan.summary()}"
                                        + (f", {kept:,} of them for the eval sample." if kept else ".")))

with manage:
    if selected is None:
        st.info("Create a project first.")
    else:
        project, project_id = selected, selected["id"]
        new_name = st.text_input("Project name", value=project["name"], key=f"rename_{project_id}")
        if st.button("Rename") and new_name.strip() != project["name"]:
            with ui.refusals(store.StoreError):
                projects.rename_project(db, ui.actor(), project_id, new_name)
                st.session_state[state.PROJECTS_FLASH] = f"Renamed to “{new_name.strip()}”."
                st.rerun()
        st.divider()
        st.caption("Deleting removes the project's texts, labels and models for good. Export them first.")
        confirm = st.text_input("Type the project's name to delete it", key=f"delete_{project_id}")
        if st.button("Delete project", type="primary", disabled=confirm != project["name"]):
            with ui.refusals():
                projects.delete_project(db, ui.actor(), project_id)
                st.session_state[state.PROJECT_ID] = None
                st.session_state[state.PROJECTS_FLASH] = f"Deleted “{project['name']}”."
                st.rerun()
