"""Sieve's server: `sieve run` or `streamlit run serve.py`. Streamlit serves app.py (the UI) as usual, plus
the one route that sets and clears the sign-in cookie (ui/signin.py): Streamlit 1.67 lets an `st.App`
add Starlette routes, while a script alone cannot set an HttpOnly cookie.

`streamlit run app.py` still serves single-user mode; team mode needs this file to sign anyone in.
"""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from ui import signin

# While a `pages/` folder sits beside the main script, Streamlit runs a requested page's file directly,
# without app.py and its sign-in check, until some session first runs st.navigation (issue 19 item 4:
# a fresh server's first request to /team showed the accounts). The checkout keeps its pages in
# ui/pages/, but an installed app.py sits in site-packages, where another distribution may have a
# `pages` package. app.py always routes with st.navigation, which sets this same flag; set it up front.
PagesManager.uses_pages_directory = False

app = st.App("app.py", routes=signin.routes())
