"""Tests of what a person reads: the HTML report, letters and statements, in a real browser and as PDF."""
