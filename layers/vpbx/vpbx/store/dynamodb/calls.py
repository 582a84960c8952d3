"""CallStore on DynamoDB: one compressed item per call, its listing summary projected to GSI1."""

from __future__ import annotations  # `Versioned[X]` in signatures would build generic models at import

import zlib
from datetime import datetime

from vpbx.domain.errors import AlreadyExists, Conflict, NotFound
from vpbx.store import keys
from vpbx.store.codec import bounded_call
from vpbx.store.common import (
    call_is_live,
    calls_time_range,
    check_call_owner,
)
from vpbx.store.dynamodb.table import (
    CALL_COMPRESSION_LEVEL,
    ConditionFailed,
    DynamoTable,
    Item,
    attr_b,
    attr_n,
    attr_s,
    decode_call,
    table_key,
)
from vpbx.store.models import (
    CallRecord,
    CallSummary,
    Page,
)
from vpbx.store.paging import ListScope
from vpbx.store.ports import CallStore


class DynamoCallStore(DynamoTable, CallStore):
    def _call_item(self, tenant_id: str, call: CallRecord) -> Item:
        """The call item. GSI1 projects only CALL_LISTING_ATTRIBUTES (template.yaml), so each write of the call
        costs one write unit on the index however long `body` (the whole record with its trace) grows."""
        info = call.state.call
        return {
            **table_key(keys.tenant_pk(tenant_id), keys.CALL_PREFIX + info.call_id),
            "GSI1PK": attr_s(keys.calls_gsi_pk(tenant_id)),
            "GSI1SK": attr_s(keys.calls_gsi_sk(info.started_at, info.call_id)),
            "seq": attr_n(call.state.seq),
            "dialed": attr_s(info.dialed),
            "expires_at": attr_n(call.expires_at),
            "summary": attr_s(CallSummary.of(call).model_dump_json()),
            "body": attr_b(zlib.compress(call.model_dump_json().encode(), CALL_COMPRESSION_LEVEL)),
        }

    def _now_epoch(self) -> dict[str, str]:
        return attr_n(int(self._clock().timestamp()))

    def create_call(self, tenant_id: str, call: CallRecord) -> CallRecord:
        check_call_owner(tenant_id, call)
        stored = bounded_call(call)
        try:
            self._request(
                "put_item",
                TableName=self.table_name,
                Item=self._call_item(tenant_id, stored),
                # an expired call that TTL has not swept yet does not block its id
                ConditionExpression="attribute_not_exists(PK) OR expires_at <= :now",
                ExpressionAttributeValues={":now": self._now_epoch()},
            )
        except ConditionFailed:
            raise AlreadyExists(f"call {call.state.call.call_id} already exists") from None
        return stored

    def get_call(self, tenant_id: str, call_id: str) -> CallRecord:
        item = self._get_item(keys.tenant_pk(tenant_id), keys.CALL_PREFIX + call_id)
        if item is None or not call_is_live(int(item["expires_at"]["N"]), self._clock()):
            raise NotFound(f"call {call_id} not found")
        return decode_call(item)

    def save_call(self, tenant_id: str, call: CallRecord, expected_seq: int) -> CallRecord:
        check_call_owner(tenant_id, call)
        stored = bounded_call(call)
        call_id = call.state.call.call_id
        try:
            self._conditional(
                "put_item",
                Item=self._call_item(tenant_id, stored),
                ConditionExpression="seq = :expected AND expires_at > :now",
                ExpressionAttributeValues={":expected": attr_n(expected_seq), ":now": self._now_epoch()},
            )
        except ConditionFailed as failed:
            current = failed.item
            if not current or not call_is_live(int(current["expires_at"]["N"]), self._clock()):
                raise NotFound(f"call {call_id} not found") from None
            raise Conflict(f"call {call_id} is at sequence {current['seq']['N']}, not {expected_seq}") from None
        return stored

    def list_calls(
        self,
        tenant_id: str,
        limit: int,
        cursor: str | None,
        number: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[CallSummary]:
        """Newest first (GSI1: the calls' CALL_LISTING_ATTRIBUTES, not whole calls); `number` is the dialed number;
        since <= started_at < until."""
        scope = ListScope(keys.calls_gsi_pk(tenant_id), "", index=keys.GSI1)
        conditions, values = ["expires_at > :now"], {":now": self._now_epoch()}
        if number is not None:
            conditions.append("dialed = :dialed")
            values[":dialed"] = attr_s(number)
        items, next_cursor = self._query_page(
            tenant_id,
            scope,
            limit,
            cursor,
            descending=True,
            sort_range=calls_time_range(since, until),
            filter_expression=" AND ".join(conditions),
            filter_values=values,
        )
        summaries = [CallSummary.model_validate_json(item["summary"]["S"]) for item in items]
        return Page[CallSummary](items=summaries, next_cursor=next_cursor)
