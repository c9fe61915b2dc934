"""Helpers shared by the test suites: test data, traffic, local Redis clusters, services."""
