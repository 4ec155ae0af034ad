"""Sanctions (Measures Art. 19): strikes for blocked inputs, suspension, termination, abuse
patterns, and the admin's warn/suspend/lift/terminate. Only counts and risk ids are kept per user,
never what they wrote (Art. 11)."""
