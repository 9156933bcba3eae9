"""Compensation: published policy versions of a project and their evaluation on household files.

The pure engine lives in :mod:`anju.policy`; this domain stores policies, turns household files into
engine facts and serves the calculation sheet, the standards table and the what-if page.
"""
