#!/usr/bin/env python3
"""Set up Sieve's virtualenv, then run the app or the tests: what `make run` and `make test` call.

    python3 scripts/bootstrap.py run [streamlit options]   # e.g. --server.port 8502
    python3 scripts/bootstrap.py test [pytest options]     # e.g. tests/unit -q
    python3 scripts/bootstrap.py setup                     # the virtualenv only

Needs nothing but Python 3.11+ (standard library only). The set-up makes the virtualenv (`.venv`,
or SIEVE_VENV), installs torch (the CPU build from PyTorch's CPU index by default, the CUDA build
when `nvidia-smi` finds a GPU or SIEVE_TORCH=cuda), then requirements.txt, and records a stamp (the
hash of requirements.txt) in the virtualenv, so a second call skips straight to the command.

Environment:
  SIEVE_VENV         the virtualenv to make or reuse (default: .venv beside this repository's app.py)
  SIEVE_TORCH        auto (default), cpu or cuda
  SIEVE_TORCH_INDEX  the index torch comes from, e.g. a mirror of https://download.pytorch.org/whl/cpu
                     or https://download.pytorch.org/whl/cu130; "pip" uses pip's own configuration
  PIP_*              pip's own settings pass through: PIP_PROXY, PIP_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
STAMP = "sieve-setup.json"
# How long pip waits on PyTorch's index before falling back to pip's own configuration
# (an offline or air-gapped machine with the wheel on disk, a wheelhouse in PIP_FIND_LINKS).
INDEX_TIMEOUT_S = "15"


def say(message: str) -> None:
    print(f"[sieve] {message}", flush=True)


def run(command: list[str], check: bool = True) -> int:
    print("+ " + shlex.join(command), flush=True)
    code = subprocess.call(command)
    if check and code != 0:
        say(f"failed (exit {code}): {shlex.join(command)}")
        sys.exit(code)
    return code


def venv_dir() -> Path:
    return Path(os.environ.get("SIEVE_VENV") or ROOT / ".venv").absolute()


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def torch_pin() -> str:
    for line in REQUIREMENTS.read_text().splitlines():
        if line.strip().lower().startswith("torch=="):
            return line.split("==", 1)[1].strip()
    sys.exit(f"[sieve] requirements.txt pins no torch version ({REQUIREMENTS})")


def torch_variant() -> tuple[str, str]:
    """("cpu" or "cuda", why)."""
    asked = os.environ.get("SIEVE_TORCH", "auto").strip().lower() or "auto"
    if asked in ("cpu", "cuda"):
        return asked, f"SIEVE_TORCH={asked}"
    if asked != "auto":
        sys.exit(f"[sieve] SIEVE_TORCH must be auto, cpu or cuda, not {asked!r}")
    if shutil.which("nvidia-smi"):
        try:
            listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            listed = None
        if listed is not None and listed.returncode == 0 and "GPU" in listed.stdout:
            return "cuda", "nvidia-smi found " + listed.stdout.strip().splitlines()[0]
    return "cpu", "no NVIDIA GPU found; SIEVE_TORCH=cuda asks for the CUDA build"


def stamp_for(variant: str) -> dict:
    return {"requirements_sha256": hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest(), "torch": variant}


def installed_version(python: Path, package: str) -> str | None:
    probe = subprocess.run([str(python), "-c", "import importlib.metadata as m, sys\n"
                            f"try: print(m.version({package!r}))\nexcept m.PackageNotFoundError: sys.exit(1)"],
                           capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def install_torch(python: Path, variant: str) -> None:
    pin = torch_pin()
    pip = [str(python), "-m", "pip", "install"]
    have = installed_version(python, "torch")
    if have is not None and have.split("+")[0] == pin:
        cpu_build = "+cpu" in have or sys.platform in ("darwin", "win32")
        if variant == "cuda" and cpu_build and sys.platform != "darwin":
            say(f"torch {have} is the CPU build; replacing it with the CUDA build")
            run([str(python), "-m", "pip", "uninstall", "-y", "torch"])
        elif variant == "cpu" and not cpu_build and os.environ.get("SIEVE_TORCH", "").lower() == "cpu":
            say(f"torch {have} is not the CPU build; replacing it (SIEVE_TORCH=cpu)")
            run([str(python), "-m", "pip", "uninstall", "-y", "torch"])
        else:
            say(f"torch {have} is installed already")
            return
    index = os.environ.get("SIEVE_TORCH_INDEX", "").strip()
    if index == "pip":
        run(pip + [f"torch=={pin}"])
        return
    if variant == "cuda" or sys.platform == "darwin":
        # PyPI's Linux wheels of torch are CUDA builds and macOS has only the one build; on Windows, PyPI's
        # wheel is the CPU one: SIEVE_TORCH_INDEX=https://download.pytorch.org/whl/cu130 (say) gives CUDA.
        say(f"installing torch {pin} from {index or 'PyPI'}" + (" (the CUDA build, a few GB)" if variant == "cuda" else ""))
        run(pip + [f"torch=={pin}"] + (["--index-url", index] if index else []))
        return
    index = index or CPU_INDEX
    say(f"installing torch {pin}, the CPU build, from {index}")
    # Only torch itself from PyTorch's index: what it needs is pinned in requirements.txt (next step).
    if run(pip + [f"torch=={pin}", "--no-deps", "--index-url", index, "--timeout", INDEX_TIMEOUT_S,
                  "--retries", "0"], check=False) == 0:
        return
    say(f"{index} did not give torch {pin}; trying pip's own configuration (its index, PIP_FIND_LINKS, "
        "a wheelhouse). Without a local CPU wheel this downloads PyPI's build, which on Linux is the CUDA one.")
    run(pip + [f"torch=={pin}"])


def set_up() -> Path:
    venv = venv_dir()
    python = venv_python(venv)
    variant, why = torch_variant()
    wanted = stamp_for(variant)
    stamp = venv / STAMP
    if python.exists() and stamp.exists():
        try:
            recorded = json.loads(stamp.read_text())
        except ValueError:
            recorded = {}
        explicit = os.environ.get("SIEVE_TORCH", "auto").strip().lower() != "auto"
        if (recorded.get("requirements_sha256") == wanted["requirements_sha256"]
                and (not explicit or recorded.get("torch") == variant)):
            say(f"{venv} is set up (requirements.txt unchanged; torch {recorded.get('torch')} build)")
            return python
    if sys.version_info < (3, 11):
        sys.exit(f"[sieve] Sieve needs Python 3.11 or newer; this is {platform.python_version()} "
                 "(try: make run PYTHON=python3.11)")
    if not python.exists():
        say(f"creating the virtualenv {venv}")
        run([sys.executable, "-m", "venv", str(venv)])
    elif installed_version(python, "pip") is None:
        sys.exit(f"[sieve] {venv} has no pip; remove it or set SIEVE_VENV to another directory")
    say(f"torch: the {variant.upper()} build ({why})")
    install_torch(python, variant)
    say("installing the pinned requirements")
    run([str(python), "-m", "pip", "install", "-r", str(REQUIREMENTS)])
    run([str(python), "-m", "pip", "check"])
    stamp.write_text(json.dumps(wanted, indent=1) + "\n")
    say(f"set-up done; the next call reuses {venv} until requirements.txt changes")
    return python


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("run", "test", "setup"):
        sys.exit(__doc__)
    command, rest = argv[0], argv[1:]
    python = set_up()
    if command == "setup":
        return
    line = [str(python), "-m", "core", "run", *rest] if command == "run" else [str(python), "-m", "pytest", *rest]
    say("starting Sieve (Ctrl-C stops it)" if command == "run" else "running the tests")
    print("+ " + shlex.join(line), flush=True)
    os.chdir(ROOT)
    if os.name == "nt":
        sys.exit(subprocess.call(line))
    os.execv(line[0], line)  # the app or pytest takes this process's place (signals reach it directly)


if __name__ == "__main__":
    main(sys.argv[1:])
