"""Complaints and personal-information requests (Measures Art. 13, 15; PIPL Art. 44–47)."""
