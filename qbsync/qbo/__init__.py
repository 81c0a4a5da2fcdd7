"""The QuickBooks API client: the only importer of python-quickbooks."""
