"""What the Team page shows, as plain rows: accounts with their projects, the audit log in words.

Like `core.versions.model_report` for the Model page: the page lays these rows out and computes nothing.
"""
from __future__ import annotations

import time

from core.team import auth


def account_rows(db, project_names: dict[int, str]) -> list[dict]:
    """One row per account: name, role, active, its projects ("all" unless an annotator), failed sign-ins."""
    rows = []
    for user in auth.users(db):
        projects = ("all" if user["role"] != auth.ANNOTATOR else
                    ", ".join(project_names[p] for p in auth.assigned_projects(db, user["id"]) if p in project_names))
        rows.append({"name": user["name"], "role": user["role"], "active": bool(user["active"]), "projects": projects,
                     "failed sign-ins": user["failed_logins"]})
    return rows


def audit_rows(db, project_names: dict[int, str], limit: int = 200) -> list[dict]:
    """The audit log, newest first: when (local time), who, what, which project, and the details,
    with the account a change was about named (user=ann1), not numbered (user_id=5)."""
    names = {u["id"]: u["name"] for u in auth.users(db)}
    return [{"when": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["created_at"])),
             "who": r["actor"], "what": r["action"], "project": project_names.get(r["project_id"], r["project_id"]),
             "detail": ", ".join(_detail(k, v, names) for k, v in r["detail"].items())}
            for r in auth.audit_log(db, limit)]


def _detail(key: str, value, names: dict[int, str]) -> str:
    if key == "user_id":
        return f"user={names.get(value, f'#{value} (deleted)')}"
    return f"{key}={value}"


def annotator_columns() -> dict[str, str]:
    """Readable column names for `quality.team_figures` rows."""
    return {"labels_per_hour": "labels / hour", "median_seconds": "median s / label",
            "kappa_with_others": "kappa with others", "shared_texts": "texts shared with others",
            "changed_share": "changed by decisions"}
