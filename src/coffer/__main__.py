"""`python -m coffer`: the same entry point as the `coffer` console script."""

from coffer.entry import main

main()
