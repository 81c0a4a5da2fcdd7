"""OAuth connection to QuickBooks: token store and login/refresh/revoke through intuit-oauth."""
