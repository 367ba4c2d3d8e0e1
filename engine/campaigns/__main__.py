"""`python -m engine.campaigns` is `xeno deliver`."""

import typer

from engine.cli.deliver import deliver

typer.run(deliver)
