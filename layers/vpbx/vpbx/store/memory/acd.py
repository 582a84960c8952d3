"""QueueStateStore in memory: the same items, versions and agent-claim guard as on DynamoDB (store/dynamodb/acd.py),
all or nothing under the table's lock. The state is kept encoded, as DynamoDB keeps it, so a caller never shares an
object with the store."""

from __future__ import annotations

from vpbx.domain.acd import AgentClaim, AgentHold, QueueState
from vpbx.store import keys
from vpbx.store.dynamodb.acd import decode_state, encode_state
from vpbx.store.memory.table import MemoryTable
from vpbx.store.ports import AgentHeld, QueueStateMoved, QueueStateStore


def claim_allowed(hold: AgentHold | None, queue_id: str, now: float) -> bool:
    """The guard of every agent claim (as HOLD_IS_OURS_OR_FREE): nobody else holds the agent now."""
    return hold is None or hold.until <= now or hold.queue_id == queue_id or hold.state == "free"


class MemoryQueueStateStore(MemoryTable, QueueStateStore):
    def read_queue_state(self, tenant_id: str, queue_id: str) -> tuple[QueueState, int]:
        with self._lock:
            stored = self._get(keys.queue_state_pk(tenant_id, queue_id), keys.QUEUE_STATE_SK)
        if stored is None:
            return QueueState(), 0
        version, body = stored
        return decode_state(body), version

    def write_queue_state(
        self,
        tenant_id: str,
        queue_id: str,
        state: QueueState,
        expected_version: int,
        claims: list[AgentClaim],
        now: float,
    ) -> int:
        pk = keys.queue_state_pk(tenant_id, queue_id)
        with self._lock:
            stored = self._get(pk, keys.QUEUE_STATE_SK)
            if (stored[0] if stored is not None else 0) != expected_version:
                raise QueueStateMoved(f"queue {queue_id} changed meanwhile")
            for claim in claims:
                hold = self.read_agent_hold(tenant_id, claim.extension)
                if not claim_allowed(hold, queue_id, now):
                    raise AgentHeld(claim.extension, hold)
            for claim in claims:
                self._put_hold(tenant_id, queue_id, claim)
            self._put(pk, keys.QUEUE_STATE_SK, (expected_version + 1, encode_state(state)))
            return expected_version + 1

    def read_agent_hold(self, tenant_id: str, extension: str) -> AgentHold | None:
        with self._lock:
            hold: AgentHold | None = self._get(keys.agent_hold_pk(tenant_id, extension), keys.AGENT_HOLD_SK)
            return hold

    def write_agent_hold(self, tenant_id: str, queue_id: str, claim: AgentClaim, now: float) -> bool:
        with self._lock:
            if not claim_allowed(self.read_agent_hold(tenant_id, claim.extension), queue_id, now):
                return False
            self._put_hold(tenant_id, queue_id, claim)
            return True

    def _put_hold(self, tenant_id: str, queue_id: str, claim: AgentClaim) -> None:
        hold = AgentHold(queue_id, claim.call_id, claim.state, round(claim.until, 3), claim.wrapup_seconds)
        self._put(keys.agent_hold_pk(tenant_id, claim.extension), keys.AGENT_HOLD_SK, hold)
