"""Small shared pieces with no knowledge of suites, models or the gate: atomic files and hashes,
YAML and JSONL reading, text overlap, templates, terminals and progress, quiet libraries."""
