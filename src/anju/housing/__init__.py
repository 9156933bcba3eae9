"""Resettlement flats (安置房): the flat stock, selection events and their verifiable order."""
