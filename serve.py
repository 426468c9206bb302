"""Sieve's server: `sieve run` or `streamlit run serve.py`. Streamlit serves app.py (the UI) as usual, plus
the one route that sets and clears the sign-in cookie (ui/signin.py): Streamlit 1.67 lets an `st.App`
add Starlette routes, while a script alone cannot set an HttpOnly cookie.

`streamlit run app.py` still serves single-user mode; team mode needs this file to sign anyone in.
"""
import streamlit as st

from ui import signin

app = st.App("app.py", routes=signin.routes())
