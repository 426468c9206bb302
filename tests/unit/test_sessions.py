"""Sessions (issue 19 item 6): an actor that came from a sign-in acts only while that session lives, so a
second tab of a signed-out session cannot change data, whatever the UI still holds."""
import pytest

from core import store
from core.labeling import annotate
from core.team import auth, projects
from tests.conftest import make_project

PASSWORD = "correct horse battery staple"


@pytest.fixture
def signed_in(db):
    admin = auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)
    pid = make_project(db, actor=admin, name="p")
    return auth.login(db, "ada", PASSWORD), pid


def test_the_actor_of_a_session_carries_its_hash_not_its_token(db, signed_in):
    session, _ = signed_in
    for actor in (session.actor, auth.session_actor(db, session.token)):
        assert actor.session and actor.session != session.token and len(actor.session) == 64
    assert session.actor == auth.session_actor(db, session.token)


def test_after_sign_out_an_actor_held_by_another_tab_changes_nothing(db, signed_in):
    session, pid = signed_in
    tab_b = auth.session_actor(db, session.token)  # what the second tab resolved before the sign-out
    shown = annotate.next_text(db, tab_b, pid)
    auth.logout(db, session.token)  # tab A signs out
    with pytest.raises(auth.Forbidden, match="signed out"):
        annotate.submit_label(db, tab_b, pid, shown, "yes")
    with pytest.raises(auth.Forbidden, match="signed out"):
        projects.update_settings(db, tab_b, pid, {"overlap": 50})
    assert store.annotations(db, pid) == []
    assert not auth.allowed(db, tab_b, auth.LABEL, pid)


def test_an_expired_session_acts_no_more(db, signed_in, monkeypatch):
    session, pid = signed_in
    later = store.now() + auth.SESSION_S + 1
    monkeypatch.setattr(store, "now", lambda: later)
    with pytest.raises(auth.Forbidden, match="signed out"):
        annotate.next_text(db, session.actor, pid)


def test_actors_without_a_session_are_unchanged(db, signed_in):
    """The command line authenticates without a session: its actor is checked on role alone."""
    session, pid = signed_in
    actor = auth.authenticate(db, "ada", PASSWORD)
    auth.logout(db, session.token)
    assert actor.session is None
    assert auth.require(db, actor, auth.LABEL, pid) == actor
