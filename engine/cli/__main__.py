"""`python -m engine.cli` is `xeno`."""

from engine.cli import main

main()
