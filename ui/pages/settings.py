"""Settings: how the project's models are trained and when; its classes and guidelines."""
import time

import streamlit as st

from core import settings as project_settings, store
from core.learning import classifiers, strategies
from core.plain_text import neutral
from core.team import auth, classes as project_classes, projects
from core.learning.classifiers import head
import ui
from ui import state

db = store.connect()
project = ui.current_project(db)
saved: project_settings.ProjectSettings = project["settings"]
ui.title("Settings", project)
n_labels = store.label_count(db, project["id"])
n_texts = store.example_count(db, project["id"])
drawn = st.session_state.setdefault(state.settings_drawn(project["id"]), {})


def synced(name: str, stored) -> str:
    """The widget key of one setting, its value kept in step with the store.

    A widget without a key is a new widget whenever its default changes, and a save changes the
    defaults: the next change the user made (right after a save) came back as the stored value
    and Save said "Nothing changed" (issue 20). Keyed widgets keep their value; this sets it to the
    stored one when first drawn, and again when the stored value moves (someone else saved) while
    the user had left the widget alone, so a save never writes a stale value back.
    """
    key = f"settings:{project['id']}:{name}"
    if key not in st.session_state or (name in drawn and drawn[name] != stored
                                       and st.session_state[key] == drawn[name]):
        st.session_state[key] = stored
    drawn[name] = stored
    return key


st.subheader("When models train")
left, right = st.columns(2)
refit_every = left.number_input(
    "Update the quick model every N new labels", 1, 1000, key=synced("refit_every", saved.refit_every),
    help="The quick model (a logistic-regression head on cached sentence embeddings) refits in under a second.")
automatic = right.toggle(
    "Full training at the automatic pace", key=synced("automatic", saved.retrain_every is None),
    help="After every batch when the worker has a GPU; every "
         f"{project_settings.CPU_RETRAIN_EVERY} labels on a CPU.")
retrain_every = right.number_input("Full training every N new labels (0: only with Train now)", 0, 100_000,
                                   key=synced("retrain_every", saved.full_retrain_every(store.worker_device(db))),
                                   disabled=automatic)
strategy = left.selectbox("Which texts to show next", list(strategies.STRATEGIES),
                          key=synced("strategy", saved.strategy),
                          format_func=lambda name: strategies.STRATEGIES[name].title,
                          help="Automatic: typical texts (k-means) until a model exists, then the ones it is least "
                               "sure about, spread out so a batch holds no near-duplicates (strategy `auto`).")
budget = right.number_input("Label budget (0: none; shown as a stopping signal)", 0, 1_000_000,
                            key=synced("label_budget", saved.label_budget or 0))
overlap = left.number_input(  # a team setting: one person alone has nobody to agree with
    "Overlap: % of texts labeled by two annotators", 0, 100, key=synced("overlap", saved.overlap),
    help="For agreement figures (Review page); which texts is random among the queued ones. Each of these "
         "texts takes one label from each of two different annotators; disagreements go to the Adjudicate page.",
) if auth.team_mode(db) else saved.overlap

st.subheader("Quick model (updated every few labels)")
head_left, head_right = st.columns(2)
head_kind = head_left.selectbox("Quick model type", list(head.HEADS), key=synced("head_kind", saved.head.kind),
                                format_func=lambda kind: kind.replace("_", " ").capitalize(),
                                help="A scikit-learn classifier on the sentence embeddings (the 'head').")
self_training = head_right.number_input(
    "Also learn from the texts it is surest about (per label, 0: off)", 0.0, 20.0,
    key=synced("self_training", float(saved.head.self_training)),
    format="%g", step=1.0, help="Self-training with pseudo-labels: confident pool texts count as labels. It added up to 7 points "
                   "of learning-curve AUC on the benchmark datasets (docs/benchmarks.md). Not used by k-nearest "
                   "neighbours.")
class_names = head_left.toggle(
    "Learn from the class names too", key=synced("class_names", saved.head.class_names),
    help="Each class's name, and its description if it has one, counts as one labeled example of that class. "
         "The model then knows every class from the start, also classes nobody has labeled yet. Turn it off "
         "if your class names are codes (such as A, B, C) that say nothing about their texts.")
head_values = {**saved.head.to_dict(), "kind": head_kind, "self_training": float(self_training),
               "class_names": bool(class_names)}
if head_kind != saved.head.kind:
    head_values["params"] = {}  # parameters of one estimator do not carry over to another

st.subheader("Full training (fine-tunes the language model)")
time_budget = st.number_input(
    "Time budget per full training, seconds (0: automatic)", 0, 24 * 3600,
    key=synced("retrain_budget_s", saved.retrain_budget_s or 0),
    help=f"Training stops when this is spent and uses what it learned so far. Automatic: "
         f"{project_settings.AUTO_RETRAIN_BUDGET_S['cpu']} s on a CPU, "
         f"{project_settings.AUTO_RETRAIN_BUDGET_S['cuda']} s on a GPU.")
multi_label = project["kind"] == "multi"
family_options = project_settings.families_for(project["kind"])  # multi-label: SetFit or a transformer
family = st.selectbox("Model family", family_options,
                      key=synced("family", saved.family if saved.family in family_options else family_options[0]),
                      format_func=classifiers.title,
                      help="; ".join(f"{classifiers.SPECS[f].title}: {classifiers.SPECS[f].description}"
                                     for f in family_options) + ".")
multi_target = saved.multi_target_strategy
if multi_label:
    multi_target = st.selectbox(
        "How the heads treat the labels (multi_target_strategy)", project_settings.MULTI_TARGET_STRATEGIES,
        key=synced("multi_target_strategy", saved.multi_target_strategy),
        help="The heads on the sentence encoder (every quick refit, and SetFit's head): one-vs-rest and multi-output "
             "fit one logistic regression per label (the same model, as in SetFit); classifier-chain lets each label "
             "also read the decisions on the labels before it. Each threshold is tuned on labels the model did not "
             "train on. A transformer's full version predicts with its own head.")
family_spec = classifiers.spec(family)
current = saved.family_arguments(family)
inputs: dict = {}  # each field's input value, by classifiers.field_key
for row in family_spec.rows:
    for column, field in zip(st.columns([f.width for f in row]), row):
        key = synced(f"{family}:{classifiers.field_key(field)}", field.widget_value(current.to_dict()))
        disabled = field.enabled_by is not None and not inputs.get(field.enabled_by)
        if field.kind == classifiers.TOGGLE:
            shown = column.toggle(field.label, key=key, help=field.help, disabled=disabled)
        else:
            shown = column.number_input(field.label, *field.bounds, key=key, format=field.format, help=field.help,
                                        disabled=disabled)
        inputs[classifiers.field_key(field)] = shown

form = {"refit_every": int(refit_every), "retrain_every": None if automatic else int(retrain_every),
        "strategy": strategy, "label_budget": int(budget) or None, "overlap": int(overlap), "retrain_budget_s": int(time_budget) or None,
        "head": head_values, "family": family, "multi_target_strategy": multi_target,
        "family_args": {family: family_spec.changed_arguments(inputs, current)}}
try:
    wanted = saved.with_changes(form)
except project_settings.SettingsError as err:
    wanted = None
    st.error(ui.plain(str(err)))

device = store.worker_device(db)
if family_spec.slow_on_cpu and wanted is not None and device != "cuda":
    where = "the worker runs on a CPU" if device else "no worker is running yet, and without a GPU it runs on a CPU"
    about = ""
    if family_spec.estimate_seconds is not None:
        estimate = family_spec.estimate_seconds(max(n_labels, 200), n_texts, wanted.family_arguments(family), "cpu")
        about = f": about {estimate / 60:.0f} min per retrain at {max(n_labels, 200)} labels and {n_texts:,} texts"
    st.warning(f"{family_spec.title.capitalize()} is slow without a GPU ({where}){about}. Consider SetFit, or run "
               "the worker on a GPU host (SIEVE_WORKER=external).")

if st.button("Save settings", type="primary", disabled=wanted is None):
    changed = project_settings.changes(saved, wanted)
    if changed:
        with ui.refusals(project_settings.SettingsError):
            projects.update_settings(db, ui.actor(), project["id"], changed)
            when = ("The quick model refits with them now; full retrains use them from the next one."
                    if "head" in changed else "They apply from the next refit or retrain.")
            st.success(f"Saved: {', '.join(project_settings.describe(saved, changed))}. {when}")
    else:
        st.info("Nothing changed.")

st.subheader("Intended use")
intended = st.text_area("What the model is for, and what it must not be used for", value=project["intended_use"],
                        help="Written into the model card (README.md) of every exported model.",
                        key=f"intended_use:{project['id']}")
if st.button("Save intended use", disabled=intended.strip() == project["intended_use"]):
    with ui.refusals():
        projects.set_intended_use(db, ui.actor(), project["id"], intended)
        st.success("Saved: exported model cards state it.")

st.subheader("Classes and guidelines")
if flash := st.session_state.pop(state.SETTINGS_FLASH, None):
    st.success(ui.plain(flash))
st.caption("Renaming a class renames it on every label and decision; models keep their classes in the same order, "
           "so a model trained before keeps meaning the same classes. A new class comes last, with the next free key.")
current_classes = store.classes(db, project["id"])
st.dataframe(ui.table([{"class": c["name"], "key": c["shortcut"] or "", "description": c["description"]}
                       for c in current_classes]), hide_index=True)
class_names = [c["name"] for c in current_classes]
rename_col, describe_col, add_col = st.columns(3)
with rename_col:
    old_name = st.selectbox("Class to rename", class_names, format_func=neutral, key="rename_class_from")
    new_name = st.text_input("New name", key="rename_class_to")
    if st.button("Rename class", disabled=not new_name.strip() or new_name.strip() == old_name):
        with ui.refusals(store.StoreError):
            n = project_classes.rename_class(db, ui.actor(), project["id"], old_name, new_name)
            st.session_state[state.SETTINGS_FLASH] = f"Renamed {old_name} to {new_name.strip()} ({n:,} labels)."
            st.rerun()  # the table above and every class list show the new name
with describe_col:
    described = st.selectbox("Class to describe", class_names, format_func=neutral, key="describe_class")
    before = next((c["description"] for c in current_classes if c["name"] == described), "")
    description = st.text_area("Description", value=before, key=f"describe_class_text:{described}",
                               help="Annotators see it on the class's button; the model learns from it with the name.")
    if st.button("Save description", disabled=description.strip() == before):
        with ui.refusals(store.StoreError):
            project_classes.describe_class(db, ui.actor(), project["id"], described, description)
            st.session_state[state.SETTINGS_FLASH] = f"Saved the description of {described}."
            st.rerun()
with add_col:
    added = st.text_input("New class", key="add_class_name")
    added_description = st.text_input("Its description (optional)", key="add_class_description")
    if st.button("Add class", disabled=not added.strip()):
        with ui.refusals(store.StoreError):
            project_classes.add_class(db, ui.actor(), project["id"], added, added_description)
            st.session_state[state.SETTINGS_FLASH] = f"Added {added.strip()}."
            st.rerun()

guidelines = st.text_area("Guidelines for annotators", value=project["guidelines"],
                          key=f"guidelines:{project['id']}", help="Shown on the Annotate page. Every version is kept.")
if st.button("Save guidelines", disabled=guidelines.strip() == project["guidelines"]):
    with ui.refusals():
        number = project_classes.set_guidelines(db, ui.actor(), project["id"], guidelines)
        st.session_state[state.SETTINGS_FLASH] = f"Saved as version {number} of the guidelines."
        st.rerun()
history = project_classes.guideline_versions(db, project["id"])
if history:
    with st.expander(f"Earlier versions of the guidelines ({len(history)})"):
        for version in reversed(history):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(version["created_at"]))
            st.caption(ui.plain(f"Version {version['number']} · {version['author'] or 'at creation'} · {when}"))
            ui.text(version["text"] or "(empty)")
