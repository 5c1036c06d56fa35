"""One module per group of commands; ``auditbench.cli`` parses and dispatches."""
