"""Minors and anti-addiction (Measures Art. 10): usage time and requests, limits, quiet hours,
continuous-use reminders, and the disclosure of groups, uses and limits."""
