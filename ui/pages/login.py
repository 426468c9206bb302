"""Sign in (team mode): name and password; the session token goes into the URL so a reload keeps it."""
import streamlit as st

from core import store
from core.team import auth
import ui

db = store.connect()
st.title("Sign in to Sieve")
with st.form("login"):
    name = st.text_input("Name")
    password = st.text_input("Password", type="password")
    submitted = st.form_submit_button("Sign in", type="primary")
if submitted:
    try:
        session = auth.login(db, name, password)
    except auth.AuthError as err:
        st.error(ui.plain(str(err)))
    else:
        st.query_params["session"] = session.token
        st.rerun()
st.caption("Ask an admin for an account. Sessions end after "
           f"{auth.SESSION_S // 3600} hours or when you sign out.")
