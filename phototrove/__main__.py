"""`python -m phototrove`: the same as `trove`."""
from .cli import main

main(prog_name="trove")
