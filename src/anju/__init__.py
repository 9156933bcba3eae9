"""安居 Anju."""

__version__ = "0.1.0"
