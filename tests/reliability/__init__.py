"""
Reliability suite (issue 7): tampering, crashes, concurrent writers, hostile input, properties.

Short form by default (fits CI); ``python -m pytest tests/reliability --soak`` runs the
long form. docs/reliability.md lists each guarantee and the test that proves it.
"""
