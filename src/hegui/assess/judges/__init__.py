"""Judges: was the question refused (``refusal``), is the answer qualified (``content``)."""
