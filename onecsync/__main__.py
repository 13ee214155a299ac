"""`python -m onecsync` runs the command line."""

from onecsync.cli import main

main()
