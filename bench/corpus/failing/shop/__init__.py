"""A small shop used by the failing-test corpus: each module has the kind of bug real projects have."""
