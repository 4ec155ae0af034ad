"""Security assessment (TC260-003 §8–9): question banks, the runner, judges, metrics, reports, filing.

The assessment is what a provider files before launch: hegui runs the banks against any
OpenAI-compatible endpoint, judges each answer, and turns the verdicts into rates with confidence
intervals against the thresholds in ``thresholds``.
"""
