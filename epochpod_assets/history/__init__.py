"""Historical integrity: sources, fact sheets, dates, the time guard and the claim check."""
