"""Labels: templates loaded from the labels/ data files and pure renderers to PDF, SVG, PNG and ZPL."""
