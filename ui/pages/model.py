"""Model: how good the model is, where it is wrong, versions (pin, compare), predictions on new data."""
import pandas as pd
import streamlit as st

from ui import charts
from core import store
from core.jobs import kinds
from core.labeling import annotate, scheduling
from core.learning import classifiers, stopping
from core.team import auth
from core.versions import model_report, registry
import ui
from ui import predictions, state
from ui.jobs import show_jobs

db = store.connect()
project = ui.current_project(db)
project_id = project["id"]
ui.title("Model", project)
if project["kind"] == "multi":  # one-vs-rest heads and multi-label figures (issue 21)
    from ui import multilabel

    multilabel.model_page(db, project)
    if ui.can(db, auth.EXPORT, project_id) and store.versions(db, project_id):  # as the tab below
        st.subheader("Predict on new data")
        predictions.predict_panel(db, project, store.versions(db, project_id), store.current_version(db, project_id))
    st.stop()
family_title = classifiers.title(project["settings"].family)
seen_key = state.model_page_versions(project_id)

if ui.can(db, auth.TRAIN, project_id) and st.button(
        f"Train now ({family_title})", type="primary",
        help=f"Train the full model ({family_title}) on every label given so far, re-embed the pool and "
             "refit the quick model. Labeling goes on meanwhile."):
    with ui.refusals():
        st.toast(ui.plain(scheduling.train_now(db, ui.actor(), project_id).message))


def label_this(example_id: int, why: str) -> None:
    """Open the Annotate page on this text."""
    st.session_state[state.label_example(project_id)] = (example_id, why)
    st.switch_page("ui/pages/annotate.py")


@ui.callback
def on_pin() -> None:
    with ui.refusals(registry.RegistryError):
        registry.pin(db, ui.actor(), project_id, st.session_state["pin_choice"])


@ui.callback
def on_unpin() -> None:
    with ui.refusals(registry.RegistryError):
        registry.unpin(db, ui.actor(), project_id)


def drawn_versions() -> tuple[int | None, int | None]:
    latest, served = store.latest_version(db, project_id), store.current_version(db, project_id)
    return latest["id"] if latest else None, served["id"] if served else None


@st.fragment(run_every="2s")
def live():
    """Job progress; the whole page redraws when a version is published or the pin changes."""
    show_jobs(store.active_jobs(db, project_id))
    if drawn_versions() != st.session_state.get(seen_key):
        st.rerun(scope="app")


# What this run draws. Recorded here, not in the fragment: a pin's own rerun drew the new pin, and
# the fragment then saw "a change" and redrew the whole page a second time (issue 20: the pin took
# 7-8 s to show).
st.session_state[seen_key] = drawn_versions()
live()
versions = store.versions(db, project_id)
if not versions:
    st.info("No model yet. The first version trains after a few labels of at least two classes.")
    st.stop()
served = store.current_version(db, project_id)
pinned = store.pin(db, project_id)
names = store.class_names(db, project_id)
banner = st.container()  # always there, so the tabs below keep their place (and the open tab) on every rerun
if pinned:
    banner.warning(f"Version {pinned['number']} is pinned by {ui.plain(pinned['pinned_by'])}: annotators get its queue "
               "and exports take it, while newer versions keep training. Unpin under Versions to follow the newest.",
               icon=":material/push_pin:")

may_predict = ui.can(db, auth.EXPORT, project_id)  # predictions take the model out of Sieve, as an export does
tabs = st.tabs(["How good is it?", "Where is it wrong?", "Versions"] + (["Predict on new data"] if may_predict else []))
overview, wrong, versions_tab = tabs[:3]
predict_tab = tabs[3] if may_predict else None

with overview:
    curve = model_report.learning_curve(versions)
    m = served["metrics"]
    breakdown = registry.eval_breakdown(db, served)
    if caution := breakdown.caution():
        st.warning(ui.plain(caution))
    sample = registry.eval_sample(db, project_id)
    if sample_note := sample.note(m.get("eval_accuracy_low"), m.get("eval_accuracy_high")):
        st.warning(ui.plain(sample_note), icon=":material/balance:")
    scores = st.columns(4)
    if "eval_accuracy" in m:
        # Never the point figure alone (issue 20): on 25 texts "56 %" read as a fact while the truth was 75 %.
        scores[0].metric(f"Eval accuracy · version {served['number']}",
                         f"{m['eval_accuracy_low']:.0%}–{m['eval_accuracy_high']:.0%}",
                         help="The 95 % interval on the eval sample: random texts the model never picks.")
        scores[0].caption(f"Measured {m['eval_accuracy']:.0%} on {m['eval_n']} eval texts; the true accuracy is "
                          "likely anywhere in the interval above.")
        scores[1].metric("Eval macro-F1", f"{m['eval_macro_f1']:.2f}")
        scores[1].caption(f"95 % interval {m['eval_macro_f1_low']:.2f} to {m['eval_macro_f1_high']:.2f}"
                          if "eval_macro_f1_low" in m else "Interval shown from 10 eval texts on.")
    scores[2].metric("Labels it learned from", served["n_labels"])
    scores[3].metric("Versions", len(versions))
    if curve:
        against = st.segmented_control("Learning curve against", ["labels", "time"], default="labels",
                                       key="curve_axis") or "labels"
        st.altair_chart(charts.learning_curve(curve, against), width="stretch")
        st.caption("Measured on the eval sample: random texts the model never picks, labeled as they come up "
                   "while annotating. The bands are 95 % confidence intervals; "
                   + ("every eval text is labeled, so they cannot narrow further (see above)." if sample.used_up
                      else "they narrow as more eval texts are labeled."))
    else:
        st.info("No eval figures yet: label some eval texts (one text in five on the Annotate page comes from the "
                "eval sample) to see an honest accuracy estimate.")

    left, right = st.columns(2)
    with left:
        st.markdown(f"**Per class** · version {served['number']} on its {breakdown.n} eval texts")
        if breakdown.n:
            st.altair_chart(charts.per_class_bars(breakdown.per_class()), width="stretch")
    with right:
        st.markdown("**Confusion matrix** · eval texts by true and predicted class")
        if breakdown.n:
            st.altair_chart(charts.confusion_heatmap(breakdown.confusion(), names), width="stretch")
    if not breakdown.n:
        st.caption("Per-class figures and the confusion matrix appear once this version has labeled eval texts.")

    timeline = model_report.label_timeline(db, project_id)
    if timeline:
        st.markdown("**Labels per class over time**")
        st.altair_chart(charts.label_timeline(timeline), width="stretch")

    st.markdown("**Should you stop labeling?**")
    for signal in stopping.signals(versions, project["settings"].label_budget):
        (st.success if signal.fired else st.info)(signal.explanation, icon=":material/flag:" if signal.fired else None)
    with st.expander("Cross-validated figures (secondary: biased low)"):
        cv = model_report.cross_validated_curve(versions)
        if cv:
            st.altair_chart(charts.cross_validated(cv), width="stretch")
        st.caption("Cross-validation on the labeled texts. The model chose those texts because they were the "
                   "hardest, so these figures run lower than its real accuracy; use them only to compare versions.")

with wrong:
    st.markdown(f"**Eval texts version {served['number']} gets wrong** · select a row to label it again")
    mistakes = registry.wrong_on_eval(db, ui.actor(), served)  # an annotator's own labels only
    if mistakes:
        table = pd.DataFrame(mistakes)
        pick = st.dataframe(ui.table(table[["text", "label", "predicted", "confidence"]]), hide_index=True, width="stretch",
                            on_select="rerun", selection_mode="single-row", key="wrong_eval",
                            column_config={"confidence": st.column_config.ProgressColumn(
                                "confidence", format="percent", min_value=0, max_value=1)})
        if pick.selection.rows:
            label_this(int(table["example_id"][pick.selection.rows[0]]), annotate.FROM_EVAL_MISTAKE)
    else:
        st.caption("None: every labeled eval text is predicted right (or none is labeled yet).")
    if len(versions) >= 2:
        old, new = versions[-2], versions[-1]
        compared, differ, rows = registry.disagreements(db, old, new)
        st.markdown(f"**Pool texts where versions {old['number']} and {new['number']} disagree** · "
                    f"{differ:,} of {compared:,} unlabeled texts · select a row to label it")
        if rows:
            table = pd.DataFrame(rows)
            pick = st.dataframe(ui.table(table.drop(columns="example_id")), hide_index=True, width="stretch",
                                on_select="rerun", selection_mode="single-row", key="disagree")
            if pick.selection.rows:
                label_this(int(table["example_id"][pick.selection.rows[0]]), annotate.FROM_VERSION_DISAGREEMENT)

with versions_tab:
    st.dataframe(ui.table(model_report.version_rows(versions, served["id"], pinned and pinned["version_id"],
                                                    model_report.newest_label_times(db, versions))),
                 hide_index=True, width="stretch")
    st.caption("'served' marks the version annotators get and exports take ('pinned' when someone pinned it); "
               "without a pin it is the one trained on the newest labels, except that a full training is served "
               "only if a quick model on its encoder beats one on the previous encoder on texts the training "
               "never saw ('why served or not' gives the figures).")
    numbers = [v["number"] for v in reversed(versions)]
    if ui.can(db, auth.SETTINGS, project_id):
        pin_col, unpin_col = st.columns([3, 2], vertical_alignment="bottom")
        pin_col.selectbox("Version to serve and export", numbers, index=numbers.index(served["number"]),
                          key="pin_choice")
        # Callbacks, so the click's own run draws the new pin from the top of the page (issue 20: the
        # buttons called st.rerun(), so the run they started drew the old state, was cut short, and a
        # second run drew the new one: "pinned" still showed 1.5 s after Unpin under load).
        pin_col.button("Pin this version", icon=":material/push_pin:", on_click=on_pin)
        unpin_col.button("Unpin: follow the newest", disabled=pinned is None, on_click=on_unpin)
    if pins := model_report.pin_history_words(store.pin_history(db, project_id)):
        st.caption(ui.plain(pins))

    st.markdown("**Compare two versions**")
    if len(versions) >= 2:
        a_col, b_col = st.columns(2)
        a = a_col.selectbox("Version", numbers, index=1, key="compare_a")
        b = b_col.selectbox("with version", numbers, index=0, key="compare_b")
        by_number = {v["number"]: v for v in versions}
        rows = registry.compare_per_class(db, by_number[a], by_number[b])
        if rows and rows[0]["eval texts"]:
            st.altair_chart(charts.compare_f1(rows), width="stretch")
            st.caption(f"Per-class F1 on the same {rows[0]['eval texts']} eval texts (every eval label given so far).")
        else:
            st.caption("Label some eval texts to compare per-class F1.")
        compared, differ, diff_rows = registry.disagreements(db, by_number[min(a, b)], by_number[max(a, b)], limit=50)
        st.caption(f"They predict different classes for {differ:,} of {compared:,} unlabeled pool texts.")
        if diff_rows:
            st.dataframe(ui.table(pd.DataFrame(diff_rows).drop(columns="example_id")), hide_index=True, width="stretch")
    else:
        st.caption("A second version is needed to compare.")

if predict_tab is not None:
    with predict_tab:
        predictions.predict_panel(db, project, versions, served)

with st.expander("Recent jobs"):
    st.dataframe(pd.DataFrame(kinds.job_rows(store.jobs(db, project_id, 20))), hide_index=True, width="stretch")
