"""Pure value helpers shared by every domain: money, dates, identity numbers, masking, pagination.

Nothing in ``anju.core`` imports from the rest of Anju, so the pure policy engine may use it
(see docs/adr/0002-policy-may-use-core.md).
"""
