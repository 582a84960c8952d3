"""Tenant-first repositories: the abstract ports, a DynamoDB implementation and an in-memory fake."""
