"""The Department's figures: statistics tables → facts with cell provenance; the check of every figure stated."""
