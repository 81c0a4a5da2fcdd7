"""Segments, campaigns with control groups, and outreach exports."""
