"""Campus: an open-source learning platform."""

__version__ = "0.1.0"
