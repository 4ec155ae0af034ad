"""Notices and user education (Measures Art. 10, 18; Labelling Measures Art. 8)."""
