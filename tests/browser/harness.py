"""Run the real app (`streamlit run serve.py`: app.py plus the sign-in cookie route) and drive it with a real Chromium (Playwright, sync API).

Shared by tests/browser and bench/browser_latency.py. Nothing here imports pytest.

The app starts its worker detached (start_new_session), so stopping streamlit does not stop
the worker: `App.stop` finds it through the `workers` table and by scanning processes for
`-m core worker` with this app's SIEVE_DATA_DIR in their environment, and kills it.
"""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SIEVE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# What the Annotate page shows: the text to label is the first st.text in the main area's columns
# that is not inside an expander (guidelines and keyword-search hits are in expanders).
SHOWN_TEXT = ('[data-testid="stMain"] [data-testid="stColumn"] [data-testid="stText"]'
              ':not([data-testid="stExpander"] [data-testid="stText"])')


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements.txt)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """One `streamlit run serve.py` on a free port with its own data directory."""

    def __init__(self, data_dir: Path, env: dict | None = None, port: int | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SIEVE_DATA_DIR": str(self.data_dir), "HF_HUB_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
        self.process: subprocess.Popen | None = None
        self.log_path = self.data_dir / "streamlit.log"

    def start(self, timeout: float = 60.0) -> "App":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"streamlit did not serve {self.url} within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def worker_pids(self) -> set[int]:
        """Workers of this data directory: from the database and from a process scan."""
        pids = set()
        db_file = self.data_dir / "sieve.db"
        if db_file.exists():
            try:
                with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=2) as conn:
                    pids |= {row[0] for row in conn.execute("SELECT pid FROM workers") if row[0]}
            except sqlite3.Error:
                pass
        return {pid for pid in pids if _is_our_worker(pid, self.data_dir)} | _scan_workers(self.data_dir)

    def stop(self) -> None:
        """Stop streamlit, then every worker it spawned (they live in their own session)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        # A worker spawned in the last moments may not have registered yet: scan twice.
        for _ in range(2):
            for pid in self.worker_pids():
                _kill(pid)
            time.sleep(0.3)

    def __enter__(self) -> "App":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _is_our_worker(pid: int, data_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    if b"-m" not in cmdline or b"core" not in cmdline or b"worker" not in cmdline:
        return False
    wanted = {f"SIEVE_DATA_DIR={data_dir}".encode(), f"SIEVE_DATA_DIR={os.path.realpath(data_dir)}".encode()}
    return any(entry in wanted for entry in environ)


def _scan_workers(data_dir: Path) -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _is_our_worker(int(entry.name), data_dir):
            pids.add(int(entry.name))
    return pids


def _kill(pid: int, grace: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + grace
    while time.time() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)  # our own child only in odd set-ups
            if finished:
                return
        except ChildProcessError:
            pass
        if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


# --------------------------------------------------------------------------- browser


def launch(playwright, **kwargs):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **kwargs)


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished rerunning the script: connected, not running, no status widget.

    The app root carries data-test-script-state (initial / running / notRunning / rerunRequested);
    the sidebar's 2-second fragment also flips it briefly, so it is checked twice in a row.
    """
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            if (!app) return false;
            const ok = app.getAttribute('data-test-connection-state') === 'CONNECTED'
                && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
                && !document.querySelector('[data-testid="stSkeleton"]');
            if (!ok) { window.__sieveIdle = 0; return false; }
            window.__sieveIdle = (window.__sieveIdle || 0) + 1;
            return window.__sieveIdle >= 3;
        }""", polling=50, timeout=timeout)


def goto(page, url: str) -> None:
    page.goto(url)
    wait_idle(page)


def open_page(page, title: str) -> None:
    """Click a page in the sidebar navigation (Projects, Annotate, Model, Export, Settings)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_function("t => document.querySelector('h1') && document.querySelector('h1').innerText.startsWith(t)",
                           arg=title, timeout=30_000)
    wait_idle(page)


def shown_text(page) -> str | None:
    """The text the Annotate page is showing, or None when it shows none."""
    return page.evaluate("s => { const e = document.querySelector(s); return e ? e.innerText : null; }", SHOWN_TEXT)


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def press(page, key: str, timeout: float = 30_000) -> str | None:
    """Press a key on the page (not in a text box) and wait until the shown text has changed.

    Returns the new text. The focus is moved to the page body first, as a person's would be after
    clicking on the page; Streamlit's shortcuts ignore key presses in inputs.
    """
    before = shown_text(page)
    page.evaluate("() => { if (document.activeElement) document.activeElement.blur(); }")
    page.keyboard.press(key)
    page.wait_for_function("([s, before]) => { const e = document.querySelector(s);"
                           " return (e ? e.innerText : null) !== before; }",
                           arg=[SHOWN_TEXT, before], polling="raf", timeout=timeout)
    wait_idle(page)
    return shown_text(page)


def choose(page, label: str, option: str, scope: str = '[data-testid="stApp"]') -> None:
    """Pick an option of a st.selectbox (a combobox named by its label) with the mouse."""
    box = page.locator(scope).get_by_role("combobox", name=label)
    # In the middle of the viewport, so the option list opens without scrolling the page: a list
    # that opens at the bottom edge scrolls it, and a scroll closes the list again.
    box.evaluate("element => element.scrollIntoView({block: 'center'})")
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)
    if box.input_value() != option:
        raise AssertionError(f"{label!r} shows {box.input_value()!r}, not {option!r}")


def press_together(pages_and_keys, timeout: float = 30_000, delay_ms: float = 300) -> list[str | None]:
    """Press a key in several pages at the same moment, as people working side by side do, then wait
    until each page shows a new text. Returns the new texts.

    All pages live in one Chromium, so they share a clock: each page schedules a synthetic
    keydown/keyup on its document body for the same `Date.now()` target (Streamlit's shortcuts
    accept untrusted events), so the reruns reach the server together instead of one CDP round
    trip apart.
    """
    befores = [shown_text(page) for page, _ in pages_and_keys]
    target = pages_and_keys[0][0].evaluate("d => Date.now() + d", delay_ms)
    for page, key in pages_and_keys:
        page.evaluate("""([target, key]) => {
            if (document.activeElement) document.activeElement.blur();
            const fire = () => {
                for (const type of ['keydown', 'keyup'])
                    document.body.dispatchEvent(new KeyboardEvent(type, {key, code: key.length === 1 ? 'Digit' + key : key,
                                                                          bubbles: true, cancelable: true}));
            };
            setTimeout(fire, Math.max(0, target - Date.now()));
        }""", [target, key])
    after = []
    for (page, _), before in zip(pages_and_keys, befores):
        page.wait_for_function("([s, before]) => { const e = document.querySelector(s);"
                               " return (e ? e.innerText : null) !== before; }",
                               arg=[SHOWN_TEXT, before], polling="raf", timeout=timeout)
        wait_idle(page)
        after.append(shown_text(page))
    return after


def set_name(page, name: str) -> None:
    """Type the annotator's name in the sidebar's "Your name" box and commit it (Enter)."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stTextInput"]', has_text="Your name").locator("input")
    box.fill(name)
    box.press("Enter")
    wait_idle(page)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")


def screenshot(page, folder: Path, name: str) -> Path:
    """A PNG of the whole page. Streamlit scrolls inside its main area, not the document, so the
    viewport is made as tall as that content for the shot, then restored."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("""() => Math.max(...['stMain', 'stSidebarContent'].map(id => {
        const e = document.querySelector(`[data-testid="${id}"]`); return e ? e.scrollHeight : 0; }))""")
    if size and height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 8000)})
        page.wait_for_timeout(300)
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if size:
            page.set_viewport_size(size)
    return path


def sign_in(page, name: str, password: str) -> None:
    """Fill the sign-in form and wait for the signed-in sidebar: the page reloads once the sign-in cookie
    is set (ui/signin.py), at the same address."""
    main = page.locator('[data-testid="stMain"]')
    main.get_by_label("Name", exact=True).fill(name)
    main.get_by_label("Password", exact=True).fill(password)
    main.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stSidebar"] >> text=Signed in as').wait_for(timeout=60_000)
    wait_idle(page)


# --------------------------------------------------------------------------- what the server sends


class ForwardMessages:
    """Every message the app's server sends one page (Streamlit's `ForwardMsg`s over its websocket),
    decoded, in order, so a test can tell the script runs apart: which run drew what, and how each
    ended (`FINISHED_EARLY_FOR_RERUN` is a run cut short by `st.rerun()`). Attach before the page
    opens the app. A message Streamlit sends as a reference to one the page already has is resolved."""

    def __init__(self, page):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # Streamlit's own schema

        self._parse = ForwardMsg.FromString
        self.messages: list = []
        self._by_hash: dict = {}
        page.on("websocket", lambda ws: ws.on("framereceived", self._received))

    def _received(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = self._parse(payload)
        if msg.WhichOneof("type") == "ref_hash":
            msg = self._by_hash.get(msg.ref_hash, msg)
        elif msg.hash:
            self._by_hash[msg.hash] = msg
        self.messages.append(msg)

    def mark(self) -> int:
        return len(self.messages)

    def runs(self, since: int = 0) -> list[tuple[str, bool, list]]:
        """The script runs started since `since` (a `mark()`) and finished: (how each ended, whether it
        was a fragment's run, the messages it sent), in the order they started. Runs are told apart by
        the run id Streamlit tags each run's first and last message with; what a run sends lies between."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        runs, current = {}, None
        for msg in self.messages[since:]:
            kind = msg.WhichOneof("type")
            run_id = msg.metadata.run.script_run_id
            if kind == "new_session":
                current = runs[run_id] = [None, bool(msg.metadata.run.fragment_ids), []]
            elif kind == "script_finished":
                if run_id in runs:
                    runs[run_id][0] = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
                current = None
            elif current is not None:
                current[2].append(msg)
        return [tuple(run) for run in runs.values() if run[0] is not None]

    def full_runs(self, since: int = 0) -> list[tuple[str, list]]:
        """`runs`, less the fragments' runs: (how each ended, its messages)."""
        return [(end, messages) for end, fragment, messages in self.runs(since) if not fragment]


def dataframes(messages: list) -> list:
    """The tables (pandas) the messages draw with st.dataframe."""
    import pyarrow as pa

    tables = []
    for msg in messages:
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            if element.WhichOneof("type") == "dataframe" and element.dataframe.arrow_data.data:
                tables.append(pa.ipc.open_stream(element.dataframe.arrow_data.data).read_all().to_pandas())
    return tables


def texts(messages: list) -> str:
    """Every string the messages' elements carry (alerts, captions, markdown), joined."""
    out = []
    for msg in messages:
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            kind = element.WhichOneof("type")
            body = getattr(element, kind, None) if kind else None
            for field in ("body", "text"):
                if body is not None and hasattr(body, field) and isinstance(getattr(body, field), str):
                    out.append(getattr(body, field))
    return " | ".join(out)
