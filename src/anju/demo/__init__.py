"""Fictional demo data for trying Anju out (``anju demo``)."""
