"""Real-name identity (draft Measures Art. 9): registration, offline checks, verification.

Only keyed hashes of the ID number, the name and the mobile number are stored, plus the last four
digits for display; the clear number lives in memory for the length of one request (and is sent to
the configured real-name provider, whose job it is to see it).
"""
