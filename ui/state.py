"""Every key the app keeps in `st.session_state`, in one place.

Plain names are shared by app.py and the pages; keys that belong to one project (or one
annotator in one project) are made by the functions below, so two projects never share a value.
"""

ANNOTATOR = "annotator"  # the name typed in the sidebar (single-user mode) or the signed-in user's
PROJECT_ID = "project_id"  # the project picked in the sidebar
ACTOR = "actor"  # the signed-in user (team mode), set by app.py on every run
SESSION_TOKEN = "session_token"  # the sign-in token, kept across page switches that clear the URL
FLASH = "flash"  # the Annotate page's message for the next run: ("saved" | "error", text)
PROJECTS_FLASH = "projects_flash"  # the Projects page's message for the next run
SETTINGS_FLASH = "settings_flash"  # the Settings page's message after a class or guidelines change
PROJECT_CREATED = "project_created"  # a project was just created: the Projects page links to Annotate
CREATE_FORM = "create_form"  # how many projects this session created: the create form's uploader key


def shown(project_id: int, annotator: str) -> str:
    """The `NextText` on the Annotate page."""
    return f"shown:{project_id}:{annotator}"


def desk(project_id: int, annotator: str) -> str:
    """The Annotate page's `ui.desk.Desk`: the text shown, when, and the message for the next run."""
    return f"desk:{project_id}:{annotator}"


def settings_drawn(project_id: int) -> str:
    """{setting: value} the Settings page's widgets were last drawn with (to follow the store)."""
    return f"settings_drawn:{project_id}"


def served_version(project_id: int) -> str:
    """The version the Annotate page was drawn with (a new one redraws it)."""
    return f"served_version:{project_id}"


def label_example(project_id: int) -> str:
    """(example id, why) a page asks the Annotate page to show next ("label this")."""
    return f"label_example:{project_id}"


def model_page_versions(project_id: int) -> str:
    """(latest, served) version ids the Model page was drawn with."""
    return f"model_page_versions:{project_id}"


def predict_job(project_id: int) -> str:
    return f"predict_job:{project_id}"


def analysis_job(project_id: int) -> str:
    return f"analysis_job:{project_id}"


def dataset_job(project_id: int) -> str:
    return f"dataset_job:{project_id}"


def export_job(project_id: int) -> str:
    return f"export_job:{project_id}"
