"""Tests of the customer file: notes, losses, languages, outreach batches and contacts."""
