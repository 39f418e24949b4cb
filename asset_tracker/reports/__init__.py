"""Reports: the programme dashboard, its charts and its tables as CSV."""
