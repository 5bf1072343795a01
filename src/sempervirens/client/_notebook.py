"""Inside a Jupyter kernel: notices and questions are outputs of the running cell.

A kernel has no terminal: stderr lands in the notebook as raw text, and a
question read with input() would hold the kernel until someone answers.  So the
first-run and policy notices are displayed (IPython.display, Markdown and plain
text), and a question is an output that says which command to run.
"""

from __future__ import annotations

import sys


def in_kernel() -> bool:
    if "ipykernel" not in sys.modules:
        return False
    from . import _environment

    return _environment.notebook() == "jupyter"


def display(text: str, markdown: str) -> bool:
    """Show in the notebook; False outside a kernel (or if IPython refuses)."""
    if not in_kernel():
        return False
    try:
        from IPython.display import display as show

        show({"text/plain": text, "text/markdown": markdown}, raw=True)
        return True
    except Exception:  # noqa: BLE001 - an IPython we do not know: the caller uses stderr
        return False


def offer_crash_report(project: str, text: str) -> bool:
    """The crash question, as an output with the commands that answer it."""
    commands = (
        f"`!sempervirens opt-in --crash-reports {project}` to send reports like this one, "
        f"`!sempervirens opt-out --crash-reports {project}` never to be asked again"
    )
    plain = (
        f"{project} crashed. It can send this crash report to its developers, with your "
        "installation id (a random id, not your name) and the platform, if you allow it. "
        f"Nothing is sent now. Run {commands}.\n\n{text}"
    )
    markdown = (
        f"**{project} crashed.** It can send this crash report to its developers, with your "
        "installation id (a random id, not your name) and the platform, if you allow it. "
        f"Nothing is sent now. Run {commands}.\n\n```\n{text}\n```"
    )
    return display(plain, markdown)
