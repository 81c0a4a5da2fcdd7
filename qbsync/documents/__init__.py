"""What a person reads or sends: the HTML report, statements and letters (PDF/HTML), a customer's archive."""
