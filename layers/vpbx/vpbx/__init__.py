"""vpbx: a serverless multi-tenant virtual PBX API."""

__version__ = "0.1.0"
