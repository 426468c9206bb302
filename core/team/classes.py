"""Changing a project's classes and guidelines after creation (admins; audited): add a class,
rename one (its labels follow), describe one, and new versions of the guidelines.

A class's position is its id in every model (`core.store.classes`), so none of these changes
makes a trained model mean other classes. A changed name or description changes what the quick
model learns from the class names, so the head is refitted (when there are labels).
"""
from __future__ import annotations

from core import store
from core.files import imports
from core.team import auth


def _check_name(db, project_id: int, name: str) -> str:
    name = (name or "").strip()
    try:
        imports._check_class_names([name], "The new name")  # the rules a file's class names follow
    except imports.ImportFailed as err:
        raise store.StoreError(str(err)) from None
    if len(store.classes(db, project_id)) >= imports.MAX_CLASSES:
        raise store.StoreError(f"A project can have at most {imports.MAX_CLASSES} classes.")
    return name


def _refit(conn, db, project_id: int, reason: str) -> None:
    if store.label_count(db, project_id):
        store.enqueue(conn, project_id, store.JobKind.HEAD, {"reason": reason}, priority=10)


def add_class(db, actor: auth.Actor, project_id: int, name: str, description: str = "") -> int:
    """A new class at the end, with the first free shortcut key; its id."""
    actor = auth.require(db, actor, auth.MANAGE_PROJECTS, project_id)
    name = _check_name(db, project_id, name)
    taken = {(c["shortcut"] or "").lower() for c in store.classes(db, project_id)}
    shortcut = next((k for k in imports.SHORTCUT_KEYS if k not in taken), None)
    with store.transaction(db) as conn:
        class_id = store.add_class(conn, project_id, name, shortcut, (description or "").strip())
        auth.audit(conn, actor, "add class", project_id, name=name)
        _refit(conn, db, project_id, "class added")
    return class_id


def rename_class(db, actor: auth.Actor, project_id: int, old: str, new: str) -> int:
    """Rename a class; every label and decision that names it follows. Returns how many labels changed."""
    actor = auth.require(db, actor, auth.MANAGE_PROJECTS, project_id)
    new = (new or "").strip()
    try:
        imports._check_class_names([new], "The new name")
    except imports.ImportFailed as err:
        raise store.StoreError(str(err)) from None
    if new == old:
        return 0
    with store.transaction(db) as conn:
        labels = store.rename_class(conn, project_id, old, new)
        auth.audit(conn, actor, "rename class", project_id, old=old, new=new, labels=labels)
        _refit(conn, db, project_id, "class renamed")
    return labels


def describe_class(db, actor: auth.Actor, project_id: int, name: str, description: str) -> None:
    actor = auth.require(db, actor, auth.MANAGE_PROJECTS, project_id)
    with store.transaction(db) as conn:
        store.set_class_description(conn, project_id, name, (description or "").strip())
        auth.audit(conn, actor, "describe class", project_id, name=name)
        _refit(conn, db, project_id, "class description changed")


def set_guidelines(db, actor: auth.Actor, project_id: int, text: str) -> int:
    """New guidelines, kept as a version with who and when (the old ones stay readable); its number."""
    actor = auth.require(db, actor, auth.MANAGE_PROJECTS, project_id)
    text = (text or "").strip()
    with store.transaction(db) as conn:
        number = store.set_guidelines(conn, project_id, text, actor.name)
        auth.audit(conn, actor, "change guidelines", project_id, version=number)
    return number


def guideline_versions(db, project_id: int) -> list[dict]:
    """Every version of the guidelines, oldest first: {number, text, author ('' before versions were kept), created_at}."""
    return store.guideline_versions(db, project_id)
