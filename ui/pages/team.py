"""Team (admins): accounts, roles and project assignments; per-annotator figures; the audit log."""
import pandas as pd
import streamlit as st

from core import store
from core.team import auth, quality, team_report
from core.plain_text import neutral
import ui
from ui import signin, state

db = store.connect()
actor = ui.actor()
st.title("Team")


TEAM_FLASH = "team_flash"  # the Team page's message for the next run (after a change redraws the tables)
if flash := st.session_state.pop(TEAM_FLASH, None):
    st.success(ui.plain(flash))

if not auth.team_mode(db):
    st.info("Sieve runs in single-user mode: nobody signs in. Create the first admin account to start team mode; "
            "from then on everyone signs in.")
    with st.form("first_admin"):
        name = st.text_input("Admin name", value=actor.name)
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Create admin and sign in", type="primary"):
            with ui.refusals():
                if not signin.mounted():  # an admin who could not sign in would lock everyone out
                    raise auth.AuthError("Team mode needs Sieve's server: start Sieve with `sieve run` "
                                         "(or `streamlit run serve.py`), not `streamlit run app.py`.")
                auth.create_user(db, actor, name, password, auth.ADMIN)
                session = auth.login(db, name, password)
                signin.hand_over(session.token)
    st.stop()

accounts = auth.users(db)
projects = store.projects(db)
project_names = {p["id"]: p["name"] for p in projects}
st.subheader("Accounts")
st.dataframe(ui.table(team_report.account_rows(db, project_names)), hide_index=True)

with st.form("new_user", clear_on_submit=True):
    st.markdown("**New account**")
    c1, c2, c3 = st.columns(3)
    name = c1.text_input("Name", key="new_user_name")
    password = c2.text_input("Password", type="password", key="new_user_password")
    role = c3.selectbox("Role", auth.ROLES, index=auth.ROLES.index(auth.ANNOTATOR), key="new_user_role")
    assigned = st.multiselect("Projects (annotators)", list(project_names), format_func=lambda i: neutral(project_names[i]),
                              key="new_user_projects")
    if st.form_submit_button("Create account", type="primary"):
        with ui.refusals():
            created = auth.create_user(db, actor, name, password, role)
            for project_id in assigned:
                auth.assign(db, actor, created.user_id, project_id)
            st.session_state[TEAM_FLASH] = f"Created {created.name} ({role})."
            st.rerun()  # the accounts table above shows the new account at once

if accounts:
    with st.expander("Change an account"):
        by_id = {u["id"]: u for u in accounts}
        user_id = st.selectbox("Account", list(by_id), format_func=lambda i: neutral(by_id[i]["name"]), key="edit_user")
        chosen = by_id[user_id]
        role = st.selectbox("Role", auth.ROLES, index=auth.ROLES.index(chosen["role"]), key=f"edit_role_{user_id}")
        now_assigned = auth.assigned_projects(db, user_id)
        wanted = st.multiselect("Projects", list(project_names), default=[p for p in now_assigned if p in project_names],
                                format_func=lambda i: neutral(project_names[i]), key=f"edit_projects_{user_id}")
        password = st.text_input("New password (leave empty to keep)", type="password", key=f"edit_pw_{user_id}")
        active = st.checkbox("Active", value=bool(chosen["active"]), key=f"edit_active_{user_id}")
        if st.button("Save account", key=f"edit_save_{user_id}"):
            with ui.refusals():
                if role != chosen["role"]:
                    auth.set_role(db, actor, user_id, role)
                for project_id in set(wanted) ^ set(now_assigned):
                    auth.assign(db, actor, user_id, project_id, project_id in wanted)
                if password:
                    auth.set_password(db, actor, user_id, password)
                if active != bool(chosen["active"]):
                    auth.set_active(db, actor, user_id, active)
                st.session_state[TEAM_FLASH] = f"Saved {chosen['name']}."
                st.rerun()

project_id = st.session_state.get(state.PROJECT_ID)
if project_id is not None and project_id in project_names:
    st.subheader(f"Annotators · {ui.plain(project_names[project_id])}")
    figures = quality.team_figures(db, project_id, quality.latest_analysis(db, project_id))
    if figures:
        st.dataframe(ui.table(pd.DataFrame(figures).rename(columns=team_report.annotator_columns())), hide_index=True,
            column_config={"changed by decisions": st.column_config.NumberColumn(format="percent")})
        st.caption("Kappa with others: Cohen's kappa with each other annotator, averaged weighted by the texts each "
                   "pair shares (the next column: few shared texts, little evidence); from the latest analysis "
                   "(Review page).")
    else:
        st.caption("No labels yet.")
    if store.project_kind(db, project_id) == "multi":  # agreement per label (issue 21)
        from ui import multilabel_team

        with ui.refusals():
            multilabel_team.team_section(db, project_id, actor)

st.subheader("Audit log")
st.dataframe(ui.table(team_report.audit_rows(db, project_names)), hide_index=True)
