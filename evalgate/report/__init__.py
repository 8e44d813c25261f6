"""Reports: rich console now; Markdown, HTML, JSON and JUnit render the same records."""
