"""The Annotate and Model pages of a multi-label project (issue 21); the pages hand over to these.

Annotate: each class key toggles its class (a toggled class's button turns primary), Enter
confirms the set, 0 answers "none of these" (an explicit empty set, not a skip), Right skips,
Backspace undoes. Nothing is preselected: the model's suggestion (every label at or above its
threshold) is shown as a caption, so it cannot slip into the answer unread.
"""

import pandas as pd
import streamlit as st

from core import store
from core.labeling import annotate, multilabel
from core.learning import stopping
from core.plain_text import neutral  # multiselect chips are not Markdown: no escaping, no bidi controls
from core.versions import model_report, registry
import ui
from ui import charts, desk, state


def annotate_page(db, project: dict, actor) -> None:
    """As the single-label page, what is shown lives on a desk handed to the callbacks (ui/desk.py):
    toggles, saves, skips and undos a few ms apart take turns and never touch st.session_state, so a
    save cannot be stopped after its label but before it moves on (the next Enter saved the same
    text again, with the next text's toggles added)."""
    project_id, annotator = project["id"], actor.name
    classes = store.classes(db, project_id)
    here = desk.desk(state.desk(project_id, annotator), actor)

    def advance(on: desk.Desk) -> None:
        on.ready = False
        with ui.refusals():  # a refusal (signed out, deactivated, unassigned) is one sentence, and nothing moves on
            try:
                split = annotate.choose_split(db, project_id, annotator)
                on.show(annotate.next_text(db, on.actor, project_id, split))
            except annotate.AnnotationError as err:
                on.flash = ("error", str(err))

    @desk.callback
    def toggle(on: desk.Desk, name: str) -> None:
        if on.ready and on.shown is not None:
            on.chosen.symmetric_difference_update({name})

    def save(on: desk.Desk, labels: list[str]) -> None:
        with ui.refusals():
            try:
                multilabel.submit_labels(db, on.actor, project_id, on.shown, labels, on.seconds())
            except annotate.AnnotationError as err:
                on.flash = ("error", str(err))
                if isinstance(err, annotate.TextTaken):
                    advance(on)
                return
            on.flash = ("saved", "Saved: " + (", ".join(labels) if labels else "none of these") + ".")
            advance(on)

    @desk.callback
    def none_of_these(on: desk.Desk) -> None:
        if on.ready and on.shown is not None:
            save(on, [])

    @desk.callback
    def confirm(on: desk.Desk) -> None:
        if not on.ready or on.shown is None:
            return
        if not on.chosen:
            on.flash = ("error", "Pick at least one class, or press 0 for “none of these”.")
            return
        save(on, [c["name"] for c in classes if c["name"] in on.chosen])

    @desk.callback
    def skip(on: desk.Desk) -> None:
        if not on.ready or on.shown is None:
            return
        with ui.refusals():
            try:
                annotate.skip(db, on.actor, project_id, on.shown.example_id, seconds=on.seconds())
            except annotate.AnnotationError as err:
                on.flash = ("error", str(err))
                return
            on.flash = ("saved", "Skipped: it comes back after the rest.")
            advance(on)

    @desk.callback
    def undo(on: desk.Desk) -> None:
        with ui.refusals():
            try:
                again = annotate.undo_and_show(db, on.actor, project_id)
            except annotate.AnnotationError as err:
                on.flash = ("error", str(err))
                return
            if again is None:
                on.flash = ("error", "Nothing to undo.")
                return
            on.show(again)
            on.flash = ("saved", "Undone: label it again.")

    with here.lock:
        if not here.ready:
            advance(here)
        ready, shown, chosen, flash = here.ready, here.shown, set(here.chosen), here.flash
        here.flash = None
    st.session_state[state.shown(project_id, annotator)] = shown  # what this run draws, for other readers (tests)
    kind, message = flash or (None, None)
    if kind == "error":
        st.error(ui.plain(message))
    elif kind == "saved":
        st.toast(ui.plain(message))
    if not ready:  # no text could be picked (the store was busy): say so, offer a retry
        st.button("Try again")
        return
    if project["guidelines"]:
        with st.expander("Guidelines"):
            st.text(project["guidelines"])
    if shown is None:
        st.success("Nothing left to label here. Add data on the Projects page.")
        return
    left, right = st.columns([3, 1])  # the text in a column, as on the single-label page
    with left:
        _annotate_body(db, project_id, classes, shown, chosen, here, toggle, confirm, none_of_these, skip, undo)
    with right:
        counts = annotate.progress(db, project_id)
        st.metric("Labeled texts", counts["labels"], help="Labeled pool texts: the model trains on these.")
        if counts["eval"]:  # as the single-label page shows it
            st.metric("Eval labels", f"{counts['eval_labels']} / {counts['eval']}",
                      help="Random texts the model never picks: its figures on them are an honest estimate.")
        version = store.current_version(db, project_id)
        st.caption(f"Model: version {version['number']} ({version['n_labels']} labeled texts)" if version
                   else "No model yet: the first one trains once a few texts have labels.")


def _annotate_body(db, project_id, classes, shown, chosen, here, toggle, confirm, none_of_these, skip, undo) -> None:
    if shown.split == store.Split.EVAL:
        st.caption(":material/balance: Eval text: picked at random to measure the model honestly.")
    with st.container(border=True):
        st.text(shown.text)
    st.caption("Multi-label: class keys toggle, Enter saves the set, 0 = none of these.")
    columns = st.columns(min(len(classes), 4) or 1)
    for i, cls in enumerate(classes):
        on = cls["name"] in chosen
        columns[i % len(columns)].button(
            ("✓ " if on else "") + ui.plain(cls["name"]), key=f"toggle_{cls['id']}", type="primary" if on else "secondary",
            help=ui.plain(cls["description"]) or None, shortcut=cls["shortcut"] or None, on_click=toggle,
            args=(here, cls["name"]), width="stretch")
    with st.container(horizontal=True):
        st.button("Save the set", shortcut="Enter", type="primary", on_click=confirm, args=(here,), key="ml_confirm")
        st.button("None of these", shortcut="0", on_click=none_of_these, args=(here,), key="ml_none",
                  help="No class applies (recorded as an answer, unlike Skip).")
        st.button("Skip", shortcut="Right", on_click=skip, args=(here,), key="ml_skip")
        st.button("Undo", shortcut="Backspace", on_click=undo, args=(here,), key="ml_undo")
    version = store.current_version(db, project_id)
    suggested = multilabel.suggested_labels(db, project_id, version, shown.example_id) if version else None
    if suggested is not None:
        st.caption("The model suggests: " + (", ".join(f"{ui.plain(n)} ({p:.0%})" for n, p in suggested)
                                             if suggested else "none of these"))
    words, detail = annotate.describe(shown)
    st.caption(f"Why this text: {words}", help=detail)


def model_page(db, project: dict) -> None:
    from core.labeling import scheduling
    from core.learning import classifiers, multilabel_full
    from core.team import auth

    family_title = classifiers.title(project["settings"].family)
    if ui.can(db, auth.TRAIN, project["id"]) and st.button(
            f"Train now ({family_title})", type="primary",
            help=f"Fine-tune {family_title} on every label set given so far, re-embed the pool and refit the "
                 "one-vs-rest heads. Labeling goes on meanwhile."):
        with ui.refusals():
            st.toast(ui.plain(scheduling.train_now(db, ui.actor(), project["id"]).message))
    version = store.current_version(db, project["id"])
    if version is None:
        st.info("No model yet: label a few texts on the Annotate page.")
        return
    m = version["metrics"]
    what, tuned = multilabel_full.describe_version(version)
    st.subheader(f"Version {version['number']}: {what}, {version['n_labels']} labeled texts")
    if "eval_micro_f1" not in m:
        st.caption("No labeled eval texts yet: figures appear once some of the eval sample is labeled.")
        return
    sample = registry.eval_sample(db, project["id"])
    if m["eval_n"] < registry.FEW_EVAL_TEXTS:
        st.warning(f"These figures rest on {m['eval_n']} eval texts: read the intervals, not the figures, and "
                   "label more eval texts before trusting them.", icon=":material/balance:")
    if sample_note := sample.note():
        st.warning(ui.plain(sample_note), icon=":material/balance:")
    cols = st.columns(4)
    for col, (key, name) in zip(cols, (("eval_micro_f1", "Micro-F1"), ("eval_macro_f1", "Macro-F1"),
                                       ("eval_hamming_loss", "Hamming loss"), ("eval_subset_accuracy", "Subset accuracy"))):
        low, high = m[key + "_ci"]
        # the interval is the figure (as on the single-label page): a point alone from a few texts reads as a fact
        col.metric(f"{name} · {m['eval_n']} eval texts", f"{low:.2f}–{high:.2f}",
                   help=f"95 % interval on {m['eval_n']} eval texts; the point figure is {m[key]:.3f}.")
    thresholds = multilabel.thresholds(version)
    rows = [{"label": r["label"], "F1": round(r["f1"], 3) if r["support"] else "–",
             "95 % CI": f"{r['ci'][0]:.2f}–{r['ci'][1]:.2f}" if r["support"] else "–",
             "eval texts with the label": r["support"], "threshold": round(float(t), 2)}
            for r, t in zip(m["eval_per_label"], thresholds)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(tuned)
    versions = store.versions(db, project["id"])
    curve = model_report.multilabel_curve(versions)
    if curve:
        st.markdown("**Learning curve** · every version on the eval sample")
        st.altair_chart(charts.learning_curve(curve), width="stretch")
        st.caption("The bands are 95 % bootstrap intervals over the labeled eval texts.")
    names = [r["label"] for r in m["eval_per_label"]]
    chosen = st.multiselect("Per-label curves", names, default=model_report.weakest_labels(version),
                            format_func=neutral, help="At first the five labels with the lowest F1 now (of those with eval texts).",
                            key=f"ml_curve_labels_{project['id']}")
    if chosen:
        st.altair_chart(charts.per_label_curves(model_report.per_label_curve(versions, chosen)), width="stretch")
    st.markdown("**Should you stop labeling?**")
    for signal in stopping.signals(versions, project["settings"].label_budget):
        (st.success if signal.fired else st.info)(signal.explanation, icon=":material/flag:" if signal.fired else None)
    st.caption("For label sets, kappa is the mean over labels of each label's agreement between a version's pool "
               "predictions and the previous version's, and uncertainty is the mean over texts and labels of how "
               "near each label's probability is to its threshold.")
