"""Customer reports over the cache: best customers, cross report, aging, payments, statements."""
