"""Pure rules and types. Nothing here performs I/O or imports the rest of the project."""
