"""Webhook routes for tenant admins: /v1/webhooks[/{webhook_id}] with rotate-secret, deliveries and test."""

from vpbx.api.entry import lambda_entry
from vpbx.api.routes import webhooks

app, handler = lambda_entry("webhooks", webhooks.router)
