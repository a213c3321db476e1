"""Anomaly detectors, robust aggregation, message authentication, escalation, collusion screens."""
