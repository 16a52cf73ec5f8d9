"""`easy_sm update-scripts`: refresh the tool-managed files of easy_sm_base/."""

from __future__ import annotations

import typer

from easy_sm import console
from easy_sm.commands.helpers import load_project
from easy_sm.commands.options import AppNameOption


def register(app: typer.Typer) -> None:
    app.command(name="update-scripts")(update_scripts)


def update_scripts(app_name: AppNameOption = None) -> None:
    """Refresh the scripts easy_sm manages in easy_sm_base/.

    Changed ones are backed up first; your code is never touched. Prints one line per managed
    file: `unchanged|added|updated<TAB>path`.

    \b
    Example:
        easy_sm update-scripts
    """
    from easy_sm.scaffold import update_scripts as refresh

    project = load_project(app_name)
    for update in refresh(project.require_base_dir()):
        relative = update.path.relative_to(project.project_dir)
        if update.backup is not None:
            console.info(f"{relative} changed locally: backed up as {update.backup.name}")
        console.result(f"{update.status}\t{relative}")
