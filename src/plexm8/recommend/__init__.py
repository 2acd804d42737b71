"""Recommendations from the user's own library: pure models built from plain data, no I/O besides their files."""
