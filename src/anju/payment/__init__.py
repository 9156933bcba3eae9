"""Payments (补偿款支付): batches, two-person approval, bank export and result import, funds."""
