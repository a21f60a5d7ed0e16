"""`python -m fer_core COMMAND ...`: the same command line as the `fer-lens` console script."""
import sys

from fer_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
