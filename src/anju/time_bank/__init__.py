"""Volunteer time bank (时间银行) and moral bank (道德银行)."""
