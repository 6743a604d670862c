"""One file per schema revision, in order (0001_…, 0002_…)."""
