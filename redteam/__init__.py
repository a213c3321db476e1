"""The red-team harness: suites, counterfactual runner, propagation metrics, tracking, reports."""
