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
their random token. Failed sign-ins make the next attempt wait longer, up to a cap, per name
typed (known or not); nothing locks an account for good: the only admin can always get in by
waiting the delay, and the host can clear it (`python -m core unlock NAME`). Passwords too
common, too simple (zxcvbn), all blank or the user's own name are refused.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

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
# zxcvbn's score (0-4) a password needs: 3 is "safely unguessable" (about 10^8 guesses or more),
# which refuses "password", "12345678" and the like, and, with the delays below, leaves an online
# guesser no chance.
MIN_PASSWORD_SCORE = 3
SESSION_S = 12 * 3600  # a session expires this long after sign-in
# Delay-only policy (issue 19 item 5): after the n-th failed sign-in in a row with a name, the next
# attempt with it is checked only fail_delay_s(n) seconds later (earlier ones are refused unchecked):
# free for FREE_FAILURES, then 1, 2, 4, ... s up to MAX_DELAY_S. No lock-out: a lock-out of N
# failures lets anyone who knows a name lock its owner out, the only admin included; the cap keeps
# a guesser to one try a minute per name. The count and the delay are reserved in one write
# transaction before the password is checked, so attempts sent at once take turns.
FREE_FAILURES = 2
MAX_DELAY_S = 60.0
FORGET_AFTER_S = 24 * 3600  # a name's failures are forgotten a day after its last delay ended

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
    """Who is acting. `user_id` is None only for the local actor of single-user mode.

    `session` is the SHA-256 of the sign-in token this actor came from (never the token), or None
    (the command line, single-user mode). `require` refuses an actor whose session has ended, so a
    tab that still holds the actor after Sign out in another tab cannot change anything (issue 19)."""

    name: str
    role: str
    user_id: int | None = None
    session: str | None = field(default=None, compare=False)  # who acts, not how, makes two actors equal


def local_actor(name: str = "local") -> Actor:
    """The actor of single-user mode (no accounts yet): a local admin under the name typed in."""
    return Actor(name.strip() or "local", ADMIN, None)


def fail_delay_s(failures: int) -> float:
    """Seconds the next attempt waits after `failures` failed logins in a row."""
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
    if actor.session is not None and not session_live(db, actor):
        raise Forbidden("You are signed out (or your session expired): sign in again.")
    name, role = row["name"], row["role"]
    if permission not in PERMISSIONS[role]:
        raise Forbidden(f"{name} is {_article(role)} {role}: only "
                        f"{' and '.join(r + 's' for r in ROLES if permission in PERMISSIONS[r])} may {WHAT[permission]}.")
    if role == ANNOTATOR and project_id is not None and not is_assigned(db, actor.user_id, project_id):
        raise Forbidden(f"{name} is not assigned to this project; an admin can assign it.")
    return Actor(name, role, actor.user_id, actor.session)


def session_live(db, actor: Actor) -> bool:
    """Whether the session this actor came from is still open (not signed out, not expired)."""
    row = store.session_user(db, actor.session, store.now())
    return row is not None and row["id"] == actor.user_id


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


def check_password(password: str, name: str = "") -> None:
    """Refuse (AuthError, with what to do instead) a password that is too short, all blank, the
    user's own name, or too easy to guess by zxcvbn (common passwords, keyboard runs, repeats,
    dates, names, words with the usual substitutions, and the user's name inside it)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AuthError(f"A password needs at least {MIN_PASSWORD} characters.")
    if not password.strip():
        raise AuthError("A password cannot be only spaces.")
    squeezed = "".join(password.split()).casefold()
    if name.strip() and squeezed in ("".join(name.split()).casefold(), "".join(name.split()).casefold()[::-1]):
        raise AuthError("A password cannot be the user's own name.")
    from zxcvbn import zxcvbn  # pure Python; imported here so importing auth stays quick

    verdict = zxcvbn(password[:100], user_inputs=[name, "sieve"])  # its cost grows with the length
    if verdict["score"] < MIN_PASSWORD_SCORE:
        hint = verdict["feedback"].get("warning") or "It is too easy to guess."
        raise AuthError(f"Choose a harder password: {hint.rstrip('.')}. A few unrelated words make a good one.")


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
    check_password(password, name)
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
    row = store.user(db, user_id)
    check_password(password, row["name"] if row else "")
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
    return Session(Actor(actor.name, actor.role, actor.user_id, _token_hash(token)), token, expires)


WRONG = "Wrong name or password."


def authenticate(db, name: str, password: str, now: float | None = None) -> Actor:
    """The user of a name and password, AuthError otherwise; no session (the command line uses it).

    First, in one write transaction, the attempt takes its turn: refused unchecked while the name
    must wait (`fail_delay_s`), else counted as a failure in advance with the delay that follows
    it, so attempts sent at once are checked one after another and at most FREE_FAILURES + 1 of
    them before the delay applies. Then the password is checked (argon2, outside the transaction);
    a success clears the count. Unknown names go the same way against a dummy hash: the same
    message, the same delays, the same work, so nothing tells whether a name exists."""
    t = store.now() if now is None else now
    typed = (name or "").strip()[:200]
    with store.transaction(db) as conn:
        store.forget_sign_in_attempts(conn, t - FORGET_AFTER_S)
        failures, retry_at = store.sign_in_attempts(conn, typed)
        if t < retry_at:
            raise AuthError(f"Too many failed sign-ins with this name: wait {max(retry_at - t, 1):.0f} s "
                            f"before trying again.")
        store.set_sign_in_attempts(conn, typed, failures + 1, t + fail_delay_s(failures + 1))
    row = store.user_for_login(db, typed) if typed else None
    try:
        _hasher.verify(row["password_hash"] if row is not None else _DUMMY_HASH, password or "")
        ok = row is not None and bool(row["active"])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise AuthError(WRONG)
    with store.transaction(db) as conn:
        store.set_sign_in_attempts(conn, typed, 0, 0)
        if _hasher.check_needs_rehash(row["password_hash"]):
            store.set_password_hash(conn, row["id"], _hasher.hash(password), reset_failures=False)
    return Actor(row["name"], row["role"], row["id"])


def unlock(db, name: str) -> bool:
    """Clear a name's failed sign-ins, so its next attempt is checked at once (the host's
    `python -m core unlock NAME`: whoever can run it can read the database anyway). Audited."""
    typed = (name or "").strip()
    with store.transaction(db) as conn:
        failures, _ = store.sign_in_attempts(conn, typed)
        store.set_sign_in_attempts(conn, typed, 0, 0)
        store.add_audit(conn, "host", "unlock sign-in", None, {"user": typed, "failures": failures})
    return failures > 0


def session_actor(db, token: str | None, now: float | None = None) -> Actor | None:
    """The signed-in user of a session token, None when it is unknown, expired or the user inactive."""
    if not token:
        return None
    t = store.now() if now is None else now
    row = store.session_user(db, _token_hash(token), t)
    return Actor(row["name"], row["role"], row["id"], _token_hash(token)) if row else None


def logout(db, token: str | None) -> None:
    if token:
        actor = session_actor(db, token)
        with store.transaction(db) as conn:
            store.end_session(conn, _token_hash(token))
            if actor is not None:
                audit(conn, actor, "sign out")
