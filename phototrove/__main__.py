"""`python -m phototrove`: the same as `trove`."""
from .cli import entry

entry()
