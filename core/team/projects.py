"""Changes to a project that someone makes: the role check (`auth.require`), the store's
change and its audit row in one transaction. The store itself takes no actor."""
from __future__ import annotations

from core import artifacts, store
from core.settings import ProjectSettings
from core.team import auth


def update_settings(db, actor: auth.Actor, project_id: int, changes: dict) -> ProjectSettings:
    """Apply only `changes` to the settings as stored now (so two people saving different
    settings do not undo each other's), check the result, and store it (admins only; audited).
    A changed quick model is refitted at once, not after the next few labels."""
    actor = auth.require(db, actor, auth.SETTINGS, project_id)
    with store.transaction(db) as conn:
        before, updated = store.change_settings(conn, project_id, changes)
        auth.audit(conn, actor, "change settings", project_id, changes=changes)
        if updated.head != before.head and store.label_count(db, project_id):
            store.enqueue_coalesced(conn, project_id, store.JobKind.HEAD, {"reason": "quick-model settings changed"},
                          priority=10)
    return updated


def rename_project(db, actor: auth.Actor, project_id: int, name: str) -> None:
    actor = auth.require(db, actor, auth.MANAGE_PROJECTS, project_id)
    if not name.strip():
        raise store.StoreError("The project needs a name.")
    with store.transaction(db) as conn:
        name = store.rename_project(conn, project_id, name)
        auth.audit(conn, actor, "rename project", project_id, name=name)


def delete_project(db, actor: auth.Actor, project_id: int) -> None:
    """Delete a project with its texts, labels, jobs and versions, and then its artifact
    directory (admins only; audited). Its jobs go with it: queued ones never run, and a running
    one is cancelled, its results discarded (the worker finds it gone at its next progress report
    and in the transaction that would publish, `store.check_open`). Ids are never reused, so
    nothing of it can reach a project made afterwards."""
    actor = auth.require(db, actor, auth.DELETE, project_id)
    with store.transaction(db) as conn:
        name = store.delete_project(conn, project_id)
        auth.audit(conn, actor, "delete project", project_id, name=name)
    artifacts.remove_project_dir(project_id)


def set_intended_use(db, actor: auth.Actor, project_id: int, text: str) -> None:
    """The intended use the model card states (admins only; audited)."""
    actor = auth.require(db, actor, auth.SETTINGS, project_id)
    with store.transaction(db) as conn:
        store.set_intended_use(conn, project_id, text)
        auth.audit(conn, actor, "change intended use", project_id)
