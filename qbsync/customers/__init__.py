"""The customer file: what qbsync keeps about each customer beyond QuickBooks (notes, losses, outreach)."""
