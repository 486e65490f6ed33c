"""The `grammarvae` command line: a thin layer over the library."""
