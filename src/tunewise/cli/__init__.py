"""The command line: one thin module per verb; each parses, calls one library function, prints."""
