"""Analyses of an engine journal after the fact: the venue report (fills, fill rates, markouts)."""
