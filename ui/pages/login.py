"""Sign in (team mode): name and password; the session token goes into an HttpOnly cookie (ui/signin.py)."""
import streamlit as st

from core import store
from core.team import auth
import ui
from ui import signin

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
        signin.hand_over(session.token)  # sets the cookie, then reloads this same address
st.caption("Ask an admin for an account. Sessions end after "
           f"{auth.SESSION_S // 3600} hours or when you sign out.")
