"""HTTP routes of the ACD (docs/CALLS.md, Queues): a queue's live view, and pausing an agent in a queue.

They live in the calls function beside telephony's routes (they read and write the queues' live state, as calls do):
`GET /v1/queues/{queue_id}/live` for admin, editor and viewer keys; pause/unpause for admin and editor keys and for
telephony keys (an agent's feature code on its phone). The queue object itself is /v1/queues (directory function).
"""

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from vpbx.api.context import current_caller
from vpbx.api.deps import get_repository
from vpbx.api.responses import READ_ERRORS, documented, error_doc
from vpbx.service.acd import MemberOut, QueueLiveOut, QueueLiveService
from vpbx.service.calls import utc_now

router = Router()
TAGS = ["Queues"]
QUEUE_MEMBER = "/v1/queues/<queue_id>/members/<extension>"

QueueIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", description="The queue's id")]
ExtensionPath = Annotated[str, Path(pattern=r"^[0-9]{1,6}$", description="A member's extension")]
MEMBER_ERRORS = {**READ_ERRORS, 404: error_doc("No such queue, or the extension is not one of its members")}


def _service() -> QueueLiveService:
    return QueueLiveService(get_repository(), current_caller(router).tenant_id, utc_now)


@router.get(
    "/v1/queues/<queue_id>/live",
    operation_id="getQueueLive",
    summary="A queue now: callers waiting and what each agent does",
    description="The callers in line in arrival order (position 1 is next) with how long they have waited and the "
    "agents ringing for them, and each member's state: `idle`, `ringing` (offered a call), `busy` (on a queue call, "
    "including another queue's), `wrap-up` (resting wrapup_seconds after a call) or `paused`. One read of the "
    "queue's live state.",
    tags=TAGS,
    responses=documented(200, QueueLiveOut, "The queue's line and agents", READ_ERRORS, etag=False),
)
def get_queue_live(queue_id: QueueIdPath) -> QueueLiveOut:
    return _service().live(queue_id)


@router.post(
    f"{QUEUE_MEMBER}/pause",
    operation_id="pauseQueueMember",
    summary="Pause an agent in a queue: no new offers from it until unpaused (admin, editor, telephony)",
    description="The member gets no new calls from this queue (other queues it belongs to are unaffected); an offer "
    "already ringing it goes on. Idempotent: pausing a paused member changes nothing. Telephony keys may call it "
    "(an agent's feature code). Answers the member's state.",
    tags=TAGS,
    responses=documented(200, MemberOut, "The member, paused", MEMBER_ERRORS, etag=False),
)
def pause_queue_member(queue_id: QueueIdPath, extension: ExtensionPath) -> MemberOut:
    return _service().set_paused(queue_id, extension, paused=True)


@router.post(
    f"{QUEUE_MEMBER}/unpause",
    operation_id="unpauseQueueMember",
    summary="Unpause an agent in a queue (admin, editor, telephony)",
    description="The member takes calls from this queue again; the caller at the head of the line may be offered "
    "to it at once. Idempotent. Answers the member's state.",
    tags=TAGS,
    responses=documented(200, MemberOut, "The member, taking calls", MEMBER_ERRORS, etag=False),
)
def unpause_queue_member(queue_id: QueueIdPath, extension: ExtensionPath) -> MemberOut:
    return _service().set_paused(queue_id, extension, paused=False)
