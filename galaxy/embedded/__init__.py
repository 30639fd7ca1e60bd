"""Embedded infrastructure for `galaxy run` with no configuration (ARCHITECTURE.md §7)."""
