"""Threat models and attacks that act on the forest through its public intervention points."""
