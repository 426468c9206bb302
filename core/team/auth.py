"""Users, roles, password hashes and sessions; every changing call in `core` checks the role here.

Roles:
  admin      projects, settings, users, export, delete, training; everything below
  reviewer   adjudication, review of suspicious labels, export, training; labels any project
  annotator  labels, and only in the projects an admin assigned to them

A fresh install has no users and runs in single-user mode: the app acts as `local_actor()`, a
local admin, as before. Creating the first user (it must be an admin) switches to team mode;
from then on every guarded call needs an `Actor` of a signed-in user, and a local actor is
refused. `require` reads the user's role from the store on every call, so a changed role or a
deactivated user takes effect at once (the UI hiding a button is not the check).

Passwords are hashed with argon2id (argon2-cffi, salted, constant-time verification); neither
a password nor a session token is ever stored or logged in clear: sessions keep a SHA-256 of
their random token. Failed logins make the next attempt wait longer, and many in a row lock
the account for a while.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core import store

ADMIN, REVIEWER, ANNOTATOR = "admin", "reviewer", "annotator"
ROLES = (ADMIN, REVIEWER, ANNOTATOR)

# Permissions, one per kind of change; what each role may do.
LABEL, ADJUDICATE, REVIEW, EXPORT, TRAIN = "label", "adjudicate", "review", "export", "train"
MANAGE_PROJECTS, SETTINGS, USERS, DELETE, TEAM = "manage projects", "change settings", "manage users", "delete", "team"
BACKUP = "backup"  # copy or replace the whole store (python -m core backup / restore)
PERMISSIONS = {
    ADMIN: frozenset({LABEL, ADJUDICATE, REVIEW, EXPORT, TRAIN, MANAGE_PROJECTS, SETTINGS, USERS, DELETE, TEAM,
                      BACKUP}),
    REVIEWER: frozenset({LABEL, ADJUDICATE, REVIEW, EXPORT, TRAIN}),
    ANNOTATOR: frozenset({LABEL}),
}
WHAT = {LABEL: "label texts", ADJUDICATE: "settle disagreements", REVIEW: "review labels", EXPORT: "export",
        TRAIN: "start training", MANAGE_PROJECTS: "create or change projects", SETTINGS: "change settings",
        USERS: "manage users", DELETE: "delete projects", TEAM: "see the team's figures",
        BACKUP: "back up or restore Sieve"}

MIN_PASSWORD = 8
SESSION_S = 12 * 3600  # a session expires this long after sign-in
# After the n-th failed login in a row, the next attempt waits FAIL_DELAY_S(n) seconds;
# LOCKOUT_AFTER failures in a row lock the account for LOCKOUT_S.
FREE_FAILURES = 2
MAX_DELAY_S = 30.0
LOCKOUT_AFTER = 10
LOCKOUT_S = 15 * 60

_hasher = PasswordHasher()  # argon2id with argon2-cffi's recommended parameters (RFC 9106 low-memory)
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(Exception):
    """A refused sign-in or a refused action, with a message meant for the user.

    Not an OSError (PermissionError is one): callers that report unreadable files must not
    take a role refusal for one."""


class Forbidden(AuthError):
    """The actor's role (or project assignment) does not allow this."""


@dataclass(frozen=True)
class Actor:
    """Who is acting. `user_id` is None only for the local actor of single-user mode."""

    name: str
    role: str
    user_id: int | None = None


def local_actor(name: str = "local") -> Actor:
    """The actor of single-user mode (no accounts yet): a local admin under the name typed in."""
    return Actor(name.strip() or "local", ADMIN, None)


def fail_delay_s(failures: int) -> float:
    """Seconds the next attempt waits after `failures` failed logins in a row."""
    if failures >= LOCKOUT_AFTER:
        return float(LOCKOUT_S)
    if failures <= FREE_FAILURES:
        return 0.0
    return min(2.0 ** (failures - FREE_FAILURES - 1), MAX_DELAY_S)


# ---------------------------------------------------------------- checks


def team_mode(db) -> bool:
    """Whether accounts exist (then sign-in is required)."""
    return store.has_users(db)


def require(db, actor: Actor, permission: str, project_id: int | None = None) -> Actor:
    """Refuse (Forbidden) unless `actor` may do `permission` (in `project_id`); returns the actor as stored."""
    if not isinstance(actor, Actor):
        raise Forbidden("Sign in first: this action needs a user.")
    if actor.user_id is None:
        if team_mode(db):
            raise Forbidden("Sign in first: this Sieve has user accounts.")
        return actor  # single-user mode: the local admin may do everything
    row = store.user(db, actor.user_id)
    if row is None or not row["active"]:
        raise Forbidden("This account no longer exists or was deactivated.")
    name, role = row["name"], row["role"]
    if permission not in PERMISSIONS[role]:
        raise Forbidden(f"{name} is {_article(role)} {role}: only "
                        f"{' and '.join(r + 's' for r in ROLES if permission in PERMISSIONS[r])} may {WHAT[permission]}.")
    if role == ANNOTATOR and project_id is not None and not is_assigned(db, actor.user_id, project_id):
        raise Forbidden(f"{name} is not assigned to this project; an admin can assign it.")
    return Actor(name, role, actor.user_id)


def allowed(db, actor: Actor, permission: str, project_id: int | None = None) -> bool:
    """Whether `require` would let this through (for the UI to hide what it would refuse)."""
    try:
        require(db, actor, permission, project_id)
    except Forbidden:
        return False
    return True


def _article(role: str) -> str:
    return "an" if role[0] in "aeiou" else "a"


def is_assigned(db, user_id: int, project_id: int) -> bool:
    return store.is_assigned(db, user_id, project_id)


def visible_projects(db, actor: Actor) -> list[dict]:
    """The projects this actor may open: all of them, or an annotator's assigned ones."""
    projects = store.projects(db)
    if actor.user_id is None or actor.role != ANNOTATOR:
        return projects
    assigned = set(store.assigned_projects(db, actor.user_id))
    return [p for p in projects if p["id"] in assigned]


def audit(conn, actor: Actor, action: str, project_id: int | None = None, **detail) -> None:
    """Append to the audit log; call inside the transaction of the change. Never pass secrets."""
    store.add_audit(conn, actor.name, action, project_id, detail)


def audit_log(db, limit: int = 200) -> list[dict]:
    return store.audit_log(db, limit)


# ---------------------------------------------------------------- users


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AuthError(f"A password needs at least {MIN_PASSWORD} characters.")


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise AuthError("A user needs a name (at most 80 characters).")
    return name


def create_user(db, actor: Actor | None, name: str, password: str, role: str) -> Actor:
    """Create an account. The first account of an install must be an admin and needs no actor
    (it ends single-user mode); every later one needs an admin."""
    name = _check_name(name)
    if role not in ROLES:
        raise AuthError(f"Unknown role {role!r}; choose from {', '.join(ROLES)}.")
    _check_password(password)
    digest = _hasher.hash(password)
    with store.transaction(db) as conn:
        first = not store.has_users(db)
        if first:
            if role != ADMIN:
                raise AuthError("The first account must be an admin.")
            actor = actor if isinstance(actor, Actor) else local_actor(name)
        else:
            require(db, actor, USERS)
        if store.user_exists(db, name):
            raise AuthError(f"A user called {name!r} already exists.")
        user_id = store.add_user(conn, name, role, digest)
        # The first admin creates itself (nobody else could): the log says so, not "local".
        audit(conn, Actor(name, role, user_id) if first else actor, "create user", user=name, role=role)
    return Actor(name, role, user_id)


def users(db) -> list[dict]:
    """Accounts without their hashes."""
    return store.users(db)


def user(db, user_id: int) -> dict | None:
    return store.user(db, user_id)


def set_role(db, actor: Actor, user_id: int, role: str) -> None:
    actor = require(db, actor, USERS)
    if role not in ROLES:
        raise AuthError(f"Unknown role {role!r}; choose from {', '.join(ROLES)}.")
    with store.transaction(db) as conn:
        _keep_an_admin(db, user_id, role=role)
        store.set_role(conn, user_id, role)
        audit(conn, actor, "set role", user_id=user_id, role=role)


def set_active(db, actor: Actor, user_id: int, active: bool) -> None:
    """Deactivate (or reactivate) an account; a deactivated user's sessions end at once."""
    actor = require(db, actor, USERS)
    with store.transaction(db) as conn:
        if not active:
            _keep_an_admin(db, user_id)
            store.end_sessions(conn, user_id)
        store.set_active(conn, user_id, active)
        audit(conn, actor, "activate user" if active else "deactivate user", user_id=user_id)


def _keep_an_admin(db, user_id: int, role: str | None = None) -> None:
    """Call inside the transaction of the change (the count then holds until it commits)."""
    if store.other_active_admins(db, user_id) == 0 and role != ADMIN:
        raise AuthError("Sieve needs at least one active admin.")


def set_password(db, actor: Actor, user_id: int, password: str) -> None:
    """An admin sets anyone's password; a user their own. Their other sessions end."""
    if not (isinstance(actor, Actor) and actor.user_id == user_id and team_mode(db)):
        actor = require(db, actor, USERS)
    _check_password(password)
    digest = _hasher.hash(password)
    with store.transaction(db) as conn:
        store.set_password_hash(conn, user_id, digest)
        store.end_sessions(conn, user_id)
        audit(conn, actor, "set password", user_id=user_id)


def assign(db, actor: Actor, user_id: int, project_id: int, assigned: bool = True) -> None:
    """Give (or take back) an annotator's access to a project."""
    actor = require(db, actor, USERS)
    with store.transaction(db) as conn:
        store.set_assigned(conn, user_id, project_id, assigned)
        audit(conn, actor, "assign" if assigned else "unassign", project_id, user_id=user_id)


def assigned_projects(db, user_id: int) -> list[int]:
    return store.assigned_projects(db, user_id)


# ---------------------------------------------------------------- sign-in and sessions


@dataclass(frozen=True)
class Session:
    actor: Actor
    token: str  # give it to the browser; the store keeps only its hash
    expires_at: float


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(db, name: str, password: str, now: float | None = None) -> Session:
    """Check a name and password; a new session on success, AuthError otherwise (see `authenticate`)."""
    t = store.now() if now is None else now
    actor = authenticate(db, name, password, t)
    token = secrets.token_urlsafe(32)
    expires = t + SESSION_S
    with store.transaction(db) as conn:
        store.add_session(conn, _token_hash(token), actor.user_id, t, expires)
        audit(conn, actor, "sign in")
    return Session(actor, token, expires)


def authenticate(db, name: str, password: str, now: float | None = None) -> Actor:
    """The user of a name and password, AuthError otherwise; no session (the command line uses it).

    Unknown names and wrong passwords get the same message and cost the same argon2 check.
    After FREE_FAILURES failures in a row each attempt must wait longer (fail_delay_s), and
    attempts made before then are refused unchecked; LOCKOUT_AFTER failures lock the account."""
    t = store.now() if now is None else now
    row = store.user_for_login(db, (name or "").strip())
    if row is not None and t < row["retry_at"]:
        wait = row["retry_at"] - t
        if row["failed_logins"] >= LOCKOUT_AFTER:
            raise AuthError(f"Too many failed sign-ins: this account is locked for {wait / 60:.0f} more minutes.")
        raise AuthError(f"Too many failed sign-ins: wait {wait:.0f} s before trying again.")
    try:
        _hasher.verify(row["password_hash"] if row is not None else _DUMMY_HASH, password or "")
        ok = row is not None and bool(row["active"])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        if row is not None:
            with store.transaction(db) as conn:
                failures = store.failed_logins(db, row["id"]) + 1
                store.set_failed_logins(conn, row["id"], failures, t + fail_delay_s(failures))
                if failures == LOCKOUT_AFTER:
                    audit(conn, Actor(row["name"], row["role"], row["id"]), "locked out", failures=failures)
        raise AuthError("Wrong name or password.")
    with store.transaction(db) as conn:
        store.set_failed_logins(conn, row["id"], 0, 0)
        if _hasher.check_needs_rehash(row["password_hash"]):
            store.set_password_hash(conn, row["id"], _hasher.hash(password), reset_failures=False)
    return Actor(row["name"], row["role"], row["id"])


def session_actor(db, token: str | None, now: float | None = None) -> Actor | None:
    """The signed-in user of a session token, None when it is unknown, expired or the user inactive."""
    if not token:
        return None
    t = store.now() if now is None else now
    row = store.session_user(db, _token_hash(token), t)
    return Actor(row["name"], row["role"], row["id"]) if row else None


def logout(db, token: str | None) -> None:
    if token:
        actor = session_actor(db, token)
        with store.transaction(db) as conn:
            store.end_session(conn, _token_hash(token))
            if actor is not None:
                audit(conn, actor, "sign out")
