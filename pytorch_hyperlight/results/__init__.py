"""Run directories on disk, reopening them, comparing runs and analysing searches."""
