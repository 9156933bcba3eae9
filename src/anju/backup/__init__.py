"""Backup and restore: a consistent online SQLite copy and a portable application-level archive."""
