"""bench: the harness. Suite keys from signatures (schema), job kinds (kind, kinds/), suites,
the runner and its context, the results store, timing and the perf suite (perf/)."""
