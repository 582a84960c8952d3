"""QueueStateStore on DynamoDB: the ACD's live state (domain/acd.py).

| item        | PK                           | SK     | attributes                                             |
|-------------|------------------------------|--------|--------------------------------------------------------|
| queue state | TENANT#<t>#QSTATE#<queue id> | QSTATE | version, body (zlib JSON of QueueState)                |
| agent hold  | TENANT#<t>#AGENT#<extension> | AGENT  | queue_id, call_id, hold_state, until, wrapup           |

A queue's state is written only on the version it was read at (optimistic, ConditionExpression); when agents are
claimed, their holds are written in the same TransactWriteItems, each on the condition that no other queue holds the
agent (no hold, a lapsed one, a `free` one, or this queue's own): so an agent is never offered two calls, across every
queue of the tenant. Each queue has its own partition: one busy queue does not slow another.
"""

from __future__ import annotations

import zlib
from typing import Any

from vpbx.domain.acd import AgentClaim, AgentHold, QueueState
from vpbx.domain.errors import Conflict
from vpbx.store import keys
from vpbx.store.dynamodb.table import (
    ConditionFailed,
    DynamoTable,
    Item,
    TransactionCanceled,
    attr_b,
    attr_n,
    attr_s,
    table_key,
)
from vpbx.store.ports import AgentHeld, QueueStateMoved, QueueStateStore

STATE_COMPRESSION_LEVEL = 6
# The guard of every agent claim: nobody else holds the agent now.
HOLD_IS_OURS_OR_FREE = "attribute_not_exists(PK) OR #until <= :now OR queue_id = :queue OR hold_state = :free"


def encode_state(state: QueueState) -> bytes:
    return zlib.compress(state.model_dump_json(exclude_defaults=True).encode(), STATE_COMPRESSION_LEVEL)


def decode_state(body: bytes) -> QueueState:
    return QueueState.model_validate_json(zlib.decompress(body))


def decode_hold(item: Item | None) -> AgentHold | None:
    if not item or "hold_state" not in item:
        return None
    return AgentHold(
        queue_id=item["queue_id"]["S"],
        call_id=item["call_id"]["S"],
        state=item["hold_state"]["S"],
        until=float(item["until"]["N"]),
        wrapup_seconds=int(item.get("wrapup", {"N": "0"})["N"]),
    )


class DynamoQueueStateStore(DynamoTable, QueueStateStore):
    def read_queue_state(self, tenant_id: str, queue_id: str) -> tuple[QueueState, int]:
        item = self._get_item(keys.queue_state_pk(tenant_id, queue_id), keys.QUEUE_STATE_SK)
        if item is None:
            return QueueState(), 0
        return decode_state(item["body"]["B"]), int(item["version"]["N"])

    def write_queue_state(
        self,
        tenant_id: str,
        queue_id: str,
        state: QueueState,
        expected_version: int,
        claims: list[AgentClaim],
        now: float,
    ) -> int:
        put = self._state_put(tenant_id, queue_id, state, expected_version)
        if not claims:
            try:
                self._conditional("put_item", **put)
            except ConditionFailed:
                raise QueueStateMoved(f"queue {queue_id} changed meanwhile") from None
            return expected_version + 1
        steps = [{"Put": put}, *({"Update": self._claim(tenant_id, queue_id, c, now)} for c in claims)]
        try:
            self._transact(steps)
        except TransactionCanceled as canceled:
            for index, claim in enumerate(claims, start=1):
                if canceled.failed(index):
                    raise AgentHeld(claim.extension, decode_hold(canceled.item(index))) from None
            raise QueueStateMoved(f"queue {queue_id} changed meanwhile") from None
        except Conflict:  # concurrent transactions on the same items, retried and lost
            raise QueueStateMoved(f"queue {queue_id} changed meanwhile") from None
        return expected_version + 1

    def read_agent_hold(self, tenant_id: str, extension: str) -> AgentHold | None:
        return decode_hold(self._get_item(keys.agent_hold_pk(tenant_id, extension), keys.AGENT_HOLD_SK))

    def write_agent_hold(self, tenant_id: str, queue_id: str, claim: AgentClaim, now: float) -> bool:
        try:
            self._conditional("update_item", **self._claim(tenant_id, queue_id, claim, now))
        except ConditionFailed:
            return False
        return True

    # ------------------------------------------------------------------------------------------ items
    def _state_put(self, tenant_id: str, queue_id: str, state: QueueState, expected_version: int) -> dict[str, Any]:
        item = {
            **table_key(keys.queue_state_pk(tenant_id, queue_id), keys.QUEUE_STATE_SK),
            "version": attr_n(expected_version + 1),
            "body": attr_b(encode_state(state)),
        }
        if expected_version == 0:
            return {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}
        return {
            "Item": item,
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": attr_n(expected_version)},
        }

    def _claim(self, tenant_id: str, queue_id: str, claim: AgentClaim, now: float) -> dict[str, Any]:
        return {
            "Key": table_key(keys.agent_hold_pk(tenant_id, claim.extension), keys.AGENT_HOLD_SK),
            "UpdateExpression": "SET queue_id = :queue, call_id = :call, hold_state = :state, #until = :until, "
            "wrapup = :wrapup",
            "ConditionExpression": HOLD_IS_OURS_OR_FREE,
            "ExpressionAttributeNames": {"#until": "until"},
            "ExpressionAttributeValues": {
                ":queue": attr_s(queue_id),
                ":call": attr_s(claim.call_id),
                ":state": attr_s(claim.state),
                ":until": {"N": repr(round(claim.until, 3))},
                ":wrapup": attr_n(claim.wrapup_seconds),
                ":now": {"N": repr(round(now, 3))},
                ":free": attr_s("free"),
            },
        }
