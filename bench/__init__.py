"""`make bench`: the platform's speed, measured on this machine and written to docs/benchmarks.md.

Benchmarks are not tests: nothing here asserts a time. Each figure is printed beside the raw
ceiling it is bounded by (the store's own save rate, JetStream's own publish rate), measured in the
same run, so a reader can tell the platform's overhead from the machine's speed.
"""
