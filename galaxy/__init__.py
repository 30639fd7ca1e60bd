"""The Galaxy backend: the consolidated business service of the Galaxy platform."""

__version__ = "0.1.0"
