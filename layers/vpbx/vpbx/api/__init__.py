"""HTTP edge: resolver factory, caller context, error mapping and shared request/response models."""
