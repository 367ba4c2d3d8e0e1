"""Run a command in the project's environment on any machine with Python 3.11+ and nothing else:
`python3 run.py xeno up --demo`, `python3 run.py pytest`.

It hands the command to `uv run`, which installs the locked dependencies into `.venv` first. `python3 -m pip
install uv` is refused by the Pythons of Debian 12, Ubuntu 23.04+ and Homebrew (PEP 668: their packages belong to
the system), so where no uv is found (in this Python's packages or on PATH) it is installed once into `.uv/`
here: with `pip install --target`, which leaves the system's packages alone and so is allowed, or, where this
Python has no pip, with uv's own installer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
UV_HOME = ROOT / ".uv"
UV_INSTALLER = "https://astral.sh/uv/install.sh"


def found_uv() -> str | None:
    """A uv already here: this one's, this Python's (`python3 -m uv`), or one on PATH."""
    ours = UV_HOME / "bin" / "uv"
    if ours.exists():
        return str(ours)
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def install_uv() -> str:
    """Install uv into `.uv/` and return its path."""
    print("run.py: installing uv into .uv/ (once)", file=sys.stderr, flush=True)
    has_pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0
    if has_pip:
        quietly = ["--quiet", "--disable-pip-version-check", "--root-user-action=ignore"]
        subprocess.run([sys.executable, "-m", "pip", "install", *quietly, "--target", str(UV_HOME), "uv"], check=True)
    else:
        with urllib.request.urlopen(UV_INSTALLER, timeout=60) as answer:
            installer = answer.read()
        # Into .uv/bin only: it leaves the shell's profile and PATH alone.
        environment = {**os.environ, "UV_UNMANAGED_INSTALL": str(UV_HOME / "bin")}
        subprocess.run(["sh"], input=installer, env=environment, check=True)
    return str(UV_HOME / "bin" / "uv")


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python3 run.py COMMAND [ARGS...]   e.g. python3 run.py xeno up --demo")
    uv = found_uv() or install_uv()
    os.chdir(ROOT)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # Python will not cache the bytecode of what it imports, so every process would compile its libraries
        # again (2 s of CPU for Dagster's alone, in each of the product's processes): uv compiles them once.
        os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
    os.execv(uv, [uv, "run", *sys.argv[1:]])  # noqa: S606 - uv, with the user's own command


if __name__ == "__main__":
    main()
