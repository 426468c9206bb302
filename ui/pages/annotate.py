"""Annotate: one text at a time, a keyboard shortcut per class, Skip and Undo."""
import time

import streamlit as st

from core import store
from core.labeling import annotate, pace
import ui
from ui import charts, desk
from ui import state

db = store.connect()
project = ui.current_project(db)
project_id = project["id"]
actor = ui.actor()
annotator = actor.name
classes = store.classes(db, project_id)
ui.title("Annotate", project)
if project["kind"] == "multi":  # sets of labels: its own page (issue 21)
    from ui import multilabel

    with ui.refusals():
        multilabel.annotate_page(db, project, actor)
    st.stop()
state_key = state.shown(project_id, annotator)
version_key = state.served_version(project_id)
HISTORY_ROWS = 20
# What the page shows lives on a desk handed to the callbacks (ui/desk.py: a key press a few ms after
# another was lost, or labeled the same text twice, when Streamlit stopped a callback half-way).
here = desk.desk(state.desk(project_id, annotator), actor)


def advance(on: desk.Desk) -> None:
    """The next text onto the desk; if none can be picked now (the store is busy), the desk says so
    and the page offers to try again, rather than keep a text that is answered already."""
    on.ready = False
    with ui.refusals():
        try:
            split = annotate.choose_split(db, project_id, annotator)
            on.show(annotate.next_text(db, on.actor, project_id, split))
        except annotate.AnnotationError as err:
            on.flash = ("error", str(err))


def refused(on: desk.Desk, err: annotate.AnnotationError) -> None:
    """Show why a label or skip was refused; if someone else has the text, move on to the next one."""
    on.flash = ("error", str(err))
    if isinstance(err, annotate.TextTaken):
        advance(on)


@desk.callback
def on_label(on: desk.Desk, label: str) -> None:
    if not on.ready or on.shown is None:
        return
    with ui.refusals():  # e.g. the account was deactivated while the text was shown
        try:
            annotate.submit_label(db, on.actor, project_id, on.shown, label, seconds=on.seconds())
        except annotate.AnnotationError as err:
            refused(on, err)
            return
        on.flash = ("saved", f"Saved “{label}”.")
        advance(on)


@desk.callback
def on_skip(on: desk.Desk) -> None:
    if not on.ready or on.shown is None:
        return
    with ui.refusals():
        try:
            annotate.skip(db, on.actor, project_id, on.shown.example_id, seconds=on.seconds())
        except annotate.AnnotationError as err:
            refused(on, err)
            return
        on.flash = ("saved", "Skipped: it comes back after the rest.")
        advance(on)


@desk.callback
def on_undo(on: desk.Desk) -> None:
    again = False
    with ui.refusals():
        try:
            again = annotate.undo_and_show(db, on.actor, project_id)  # undo and re-lease: one transaction
        except annotate.AnnotationError as err:
            on.flash = ("error", str(err))
            return
    if again is False:  # refused
        return
    if again is None:
        on.flash = ("error", "Nothing to undo.")
        return
    on.show(again)
    on.flash = ("saved", "Undone: label it again.")


def show(on: desk.Desk, example_id: int, why: str) -> None:
    """Show a chosen text (keyword search, "label this"); if someone else has it, say so and keep what is shown."""
    with ui.refusals():
        try:
            on.show(annotate.show_example(db, on.actor, project_id, example_id, why))
        except annotate.AnnotationError as err:
            on.flash = ("error", str(err))


@desk.callback
def on_pick(on: desk.Desk, example_id: int) -> None:
    show(on, example_id, "keyword search")


picked = st.session_state.pop(state.label_example(project_id), None)  # "label this" from the Model page
with here.lock:
    if picked is not None:
        show(here, *picked)
    if not here.ready:
        advance(here)
    ready, shown, flash = here.ready, here.shown, here.flash
    here.flash = None
if not ready:  # no text could be picked (the store was busy): say so, offer a retry
    st.error(ui.plain((flash or (None, "Could not pick a text."))[1]))
    st.button("Try again")
    st.stop()
if shown is not None:  # a version published since the text was shown brings its own suggestion
    refreshed = annotate.refresh_suggestion(db, project_id, shown)
    with here.lock:
        if here.shown is shown:  # unless a key press moved on meanwhile
            here.shown = refreshed
    shown = refreshed
st.session_state[state_key] = shown  # what this run draws, for other readers (tests)
served = store.current_version(db, project_id)
st.session_state[version_key] = served["id"] if served else None

if project["guidelines"]:
    with st.expander("Guidelines"):
        ui.text(project["guidelines"])

kind, message = flash or st.session_state.pop(state.FLASH, (None, None))
if kind == "error":
    st.error(ui.plain(message))
elif kind == "saved":
    st.toast(ui.plain(message))

left, right = st.columns([3, 1])
with left:
    if shown is None:
        st.success("Nothing left to label here. Add data on the Projects page.")
    else:
        if shown.split == store.Split.EVAL:
            st.caption(":material/balance: Eval text: picked at random to measure the model honestly.")
        with st.container(border=True):
            ui.text(shown.text)  # plain text: nothing from the data is parsed as HTML or Markdown
        columns = st.columns(min(len(classes), 4) or 1)
        for i, cls in enumerate(classes):
            columns[i % len(columns)].button(  # Streamlit shows the shortcut key on the button itself
                ui.plain(cls["name"]), key=f"label_{cls['id']}", help=ui.plain(cls["description"]) or None,
                shortcut=cls["shortcut"] or None, on_click=on_label, args=(here, cls["name"]), width="stretch")
        with st.container(horizontal=True):
            st.button("Skip", shortcut="Right", on_click=on_skip, args=(here,),
                      help="Skip this text; it comes back at the end.")
            st.button("Undo", shortcut="Backspace", on_click=on_undo, args=(here,), help="Take back your last label or skip.")
        if st.toggle("Show the model's suggestion", value=True) and shown.suggestion:
            confident = annotate.confident_suggestion(shown)
            if confident:
                st.caption(f"The model leans towards {ui.plain(confident[0])} ({confident[1]:.0%} sure).")
            else:
                st.caption("The model is unsure about this text; your label teaches it the most.")
        words, detail = annotate.describe(shown)
        st.caption(f"Why this text: {words}", help=detail)

with right:
    counts = annotate.progress(db, project_id)
    st.metric("Labels", counts["labels"], help="Labeled pool texts: the model trains on these.")
    if counts["since_model"] is not None:
        st.metric("New since the current model", counts["since_model"],
                  help="Pool labels given after the served model was trained.")
    if counts["eval"]:
        st.metric("Eval labels", f"{counts['eval_labels']} / {counts['eval']}",
                  help="Random texts the model never picks: its accuracy on them is an honest estimate.")
    done = counts["progress"]
    st.progress(done.pool_labeled / done.pool if done.pool else 0.0, text=done.pool_words())
    if budget_words := done.budget_words():
        st.progress(done.budget_fraction(), text=budget_words)
    st.caption(f"This session: {pace.session_pace(db, project_id, annotator).words()}",
               help="Your labels since your last pause of 30 minutes or more (an undone label is not counted); "
                    "time per label is the median time a text was on screen before you labeled it. Labels per hour "
                    f"appear from {pace.MIN_RATE_LABELS} labels over {pace.MIN_RATE_MINUTES:.0f} minutes on.")
    if counts["labels"]:
        st.altair_chart(charts.class_counts(counts["per_class"]), width="stretch")

    @st.fragment(run_every="2s")
    def model_status() -> None:
        """Shows the served model and refreshes the page when a new one is published."""
        version = store.current_version(db, project_id)
        if (version["id"] if version else None) != st.session_state.get(version_key):
            st.rerun(scope="app")
        st.caption(ui.plain(annotate.model_status(db, project_id)))

    model_status()

with st.expander("Find texts by keyword (to find rare classes)"):
    query = st.text_input("Keyword", key="search")
    if query:
        hits = store.search_examples(db, project_id, query, limit=10)
        if not hits:
            st.caption("No unlabeled text contains that.")
        for hit in hits:
            hit_text, hit_button = st.columns([5, 1])
            ui.text(hit["text"][:300], hit_text)
            hit_button.button("Label this", key=f"pick_{hit['id']}", on_click=on_pick, args=(here, hit["id"]))


def on_relabel(example_id: int, key: str) -> None:
    with ui.refusals():  # e.g. the account was deactivated meanwhile
        try:
            annotate.relabel(db, actor, project_id, example_id, st.session_state[key])
        except annotate.AnnotationError as err:
            st.session_state[state.FLASH] = ("error", str(err))
            return
        st.session_state[state.FLASH] = ("saved", f"Changed to “{st.session_state[key]}”.")


# Drawn only while open (on_change="rerun"), so labeling does not pay for it on every key press.
with st.expander("Your labels: find one and change it", key=f"history:{project_id}", on_change="rerun") as history:
    if history.open:
        looking_for = st.text_input("Text contains", key=f"history_query:{project_id}",
                                    placeholder="a word from the text (blank: your newest labels)")
        rows = store.label_history(db, project_id, annotator, looking_for, limit=HISTORY_ROWS)
        if not rows:
            st.caption("No label of yours matches." if looking_for.strip() else "You have not labeled anything yet.")
        names = [cls["name"] for cls in classes]
        for row in rows:
            text_column, label_column, button_column = st.columns([5, 2, 1], vertical_alignment="center")
            text_column.text(row["text"][:300])
            text_column.caption(f"{ui.plain(row['label'])} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(row['created_at']))}"
                                + (" · eval text" if row["split"] == store.Split.EVAL else ""))
            key = f"history_label:{row['annotation_id']}"
            label_column.selectbox("Label", names, index=names.index(row["label"]) if row["label"] in names else 0,
                                   key=key, label_visibility="collapsed")
            button_column.button("Change", key=f"history_change:{row['annotation_id']}", on_click=on_relabel,
                                 args=(row["example_id"], key))
