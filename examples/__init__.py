"""Runnable examples (importable so the test suite can run the very same code)."""
