"""HTTP routes of webhooks (admin keys only; ROUTE_ROLES): CRUD, secret rotation, deliveries and a test ping.

Writes of an existing webhook need `If-Match`; the create and rotate answers are the only ones with the secret.
"""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from vpbx.api.context import current_caller, version_from_if_match
from vpbx.api.deps import get_repository
from vpbx.api.idempotency import IdempotencyKey, idempotent
from vpbx.api.models import Cursor, Limit, PageOf
from vpbx.api.resources import IfMatch, item_location, page_of, versioned_response
from vpbx.api.responses import (
    CREATE_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    created,
    deleted_docs,
    documented,
    error_doc,
)
from vpbx.domain.webhooks import MAX_WEBHOOKS_PER_TENANT
from vpbx.service.webhook_delivery import DeliveryMessage, build_dispatcher
from vpbx.service.webhooks import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreatedOut,
    WebhookOut,
    WebhookReplace,
    WebhooksService,
    delivery_out,
    webhook_created_out,
    webhook_out,
)
from vpbx.store.ports import DEFAULT_PAGE_LIMIT

router = Router()
TAGS = ["Webhooks"]
WEBHOOKS = "/v1/webhooks"
WebhookIdPath = Annotated[str, Path(pattern=r"^wh-[0-9a-f]{12}$", description="The webhook's id (wh-…)")]
WEBHOOK_CREATE_ERRORS = {
    **CREATE_ERRORS,
    409: error_doc(f"limit_exceeded: the tenant has {MAX_WEBHOOKS_PER_TENANT} webhooks already; delete one first"),
}


def _service() -> WebhooksService:
    return WebhooksService(get_repository(), current_caller(router).tenant_id)


class _NoRetries:
    """A test ping is not retried: its one attempt is the answer."""

    def schedule(self, message: DeliveryMessage, delay_seconds: float) -> None:
        raise AssertionError("a ping is never retried")


@router.get(
    WEBHOOKS,
    operation_id="listWebhooks",
    summary="List webhooks",
    description="The tenant's webhooks, a page at a time (admin keys). Secrets are never listed.",
    tags=TAGS,
    responses=documented(200, PageOf[WebhookOut], "A page of webhooks", READ_ERRORS, etag=False),
)
def list_webhooks(limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None) -> PageOf[WebhookOut]:
    return page_of(_service().list(limit, cursor), webhook_out)


@router.post(
    WEBHOOKS,
    operation_id="createWebhook",
    summary="Create a webhook (the answer carries its signing secret, once)",
    description="Subscribes an https URL to event types (docs/WEBHOOKS.md). The answer's `secret` (whsec_…) signs "
    "every delivery (`Vpbx-Signature`) and is never shown again (rotate it to get a new one). At most 10 "
    "webhooks per tenant (409 limit_exceeded). The URL must be https and name a public host: "
    "loopback, private and link-local addresses are refused here and, after DNS, at every delivery.",
    middlewares=[idempotent],
    tags=TAGS,
    responses=created(WebhookCreatedOut, WEBHOOK_CREATE_ERRORS),
)
def create_webhook(
    body: Annotated[WebhookCreate, Body()], idempotency_key: IdempotencyKey = None
) -> Response[WebhookCreatedOut]:
    record, secret = _service().create(body)
    location = item_location(WEBHOOKS, record.item.id)
    return versioned_response(webhook_created_out(record, secret), record.version, HTTPStatus.CREATED, location)


@router.get(
    f"{WEBHOOKS}/<webhook_id>",
    operation_id="getWebhook",
    summary="Get a webhook",
    description="One webhook with its ETag (never its secret).",
    tags=TAGS,
    responses=documented(200, WebhookOut, "The webhook", READ_ERRORS),
)
def get_webhook(webhook_id: WebhookIdPath) -> Response[WebhookOut]:
    record = _service().get(webhook_id)
    return versioned_response(webhook_out(record), record.version)


@router.put(
    f"{WEBHOOKS}/<webhook_id>",
    operation_id="replaceWebhook",
    summary="Replace a webhook (If-Match required)",
    description="Replaces url, events, enabled and description; the id and the secret stay. Needs `If-Match`.",
    tags=TAGS,
    responses=documented(200, WebhookOut, "Replaced", WRITE_ERRORS),
)
def replace_webhook(
    webhook_id: WebhookIdPath, body: Annotated[WebhookReplace, Body()], if_match: IfMatch
) -> Response[WebhookOut]:
    record = _service().replace(webhook_id, body, version_from_if_match(if_match))
    return versioned_response(webhook_out(record), record.version)


@router.delete(
    f"{WEBHOOKS}/<webhook_id>",
    operation_id="deleteWebhook",
    summary="Delete a webhook (If-Match required)",
    description="Deletes the webhook; pending retries end (dead). Its delivery records expire on their own.",
    tags=TAGS,
    responses=deleted_docs(WRITE_ERRORS),
)
def delete_webhook(webhook_id: WebhookIdPath, if_match: IfMatch) -> Response[None]:
    _service().delete(webhook_id, version_from_if_match(if_match))
    return Response(status_code=HTTPStatus.NO_CONTENT, body=None)


@router.post(
    f"{WEBHOOKS}/<webhook_id>/rotate-secret",
    operation_id="rotateWebhookSecret",
    summary="Rotate the signing secret (If-Match required; the answer carries the new secret, once)",
    description="Generates a new secret. For 24 hours deliveries carry two signatures (two `v1=` entries: the new "
    "secret's and the old one's), so receivers can switch without losing events.",
    tags=TAGS,
    responses=documented(200, WebhookCreatedOut, "The webhook with its new secret", WRITE_ERRORS),
)
def rotate_webhook_secret(webhook_id: WebhookIdPath, if_match: IfMatch) -> Response[WebhookCreatedOut]:
    record, secret = _service().rotate_secret(webhook_id, version_from_if_match(if_match))
    return versioned_response(webhook_created_out(record, secret), record.version)


@router.get(
    f"{WEBHOOKS}/<webhook_id>/deliveries",
    operation_id="listWebhookDeliveries",
    summary="List a webhook's deliveries, newest first",
    description="One entry per event sent to this webhook: its attempts, the last status code and error, when the "
    "next retry is due, and its state (pending, retrying, delivered, dead). Kept for 30 days.",
    tags=TAGS,
    responses=documented(200, PageOf[DeliveryOut], "A page of deliveries", READ_ERRORS, etag=False),
)
def list_webhook_deliveries(
    webhook_id: WebhookIdPath, limit: Limit = DEFAULT_PAGE_LIMIT, cursor: Cursor = None
) -> PageOf[DeliveryOut]:
    page = _service().deliveries(webhook_id, limit, cursor)
    return PageOf(items=page.items, next_cursor=page.next_cursor)


@router.post(
    f"{WEBHOOKS}/<webhook_id>/test",
    operation_id="testWebhook",
    summary="Send a webhook.ping now and return the attempt's result",
    description="Delivers a signed `webhook.ping` event to the webhook's URL (even when it is disabled) and answers "
    "with the recorded delivery: `delivered` with the status code, or `dead` with the error. A ping is "
    "not retried.",
    tags=TAGS,
    responses=documented(200, DeliveryOut, "The ping's delivery", READ_ERRORS, etag=False),
)
def test_webhook(webhook_id: WebhookIdPath) -> DeliveryOut:
    tenant_id = current_caller(router).tenant_id
    _service().get(webhook_id)  # 404 first
    dispatcher = build_dispatcher(get_repository(), queue=_NoRetries())
    return delivery_out(dispatcher.ping(tenant_id, webhook_id))
