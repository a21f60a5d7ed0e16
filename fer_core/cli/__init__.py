"""The `fer-lens` command line: `main` parses, one module per command group runs."""
