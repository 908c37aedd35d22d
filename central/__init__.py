"""Reference central server speaking protocol v1 (demo, tests, small deployments)."""
