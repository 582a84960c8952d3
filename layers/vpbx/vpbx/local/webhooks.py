"""Webhooks in `vpbx serve`: the embedded table's stream feeds the same dispatcher code as in AWS, and a timer thread
stands in for SQS.

moto 5.2 keeps a DynamoDB stream for a table created with a StreamSpecification (the template's): PutItem, UpdateItem,
DeleteItem and TransactWriteItems all leave INSERT/MODIFY/REMOVE records with NEW_AND_OLD_IMAGES, readable through
its dynamodbstreams API (GetShardIterator/GetRecords on the one shard). What it lacks, and what this feed does not
need: TTL removals, shard splits, and binary attributes in images (moto writes their repr as text; the dispatcher
reads only the string `summary` and numeric attributes). The feed polls GetRecords, turns boto3's
ApproximateCreationDateTime (a datetime) into Lambda's epoch seconds, and hands each batch to
`handle_stream_batch`, retrying from a failed record after a second, as the event source mapping does.

An external --dynamodb-endpoint without a stream gets no deliveries (printed at start-up).
"""

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from vpbx.service.webhook_delivery import DeliveryMessage, WebhookDispatcher, build_dispatcher, handle_stream_batch
from vpbx.store.ports import WebhookStore

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # an idle stream is polled twice a second: each poll takes the embedded moto's one lock
REDELIVERY_SECONDS = 1.0  # after a failed batch or message, as Lambda and SQS would retry
MAX_RECEIVES = 5  # then the message is dead-lettered (logged), like the queue's redrive policy


class LocalDeliveryQueue:
    """SQS's per-message delay on a timer: due messages run on a small pool; a message that raises comes back after
    REDELIVERY_SECONDS, at most MAX_RECEIVES times."""

    def __init__(self, workers: int = 4) -> None:
        self.dispatcher: WebhookDispatcher | None = None
        self._heap: list[tuple[float, int, DeliveryMessage, int]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook-delivery")
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="webhook-queue", daemon=True)

    def start(self, dispatcher: WebhookDispatcher) -> None:
        self.dispatcher = dispatcher
        self._thread.start()

    def schedule(self, message: DeliveryMessage, delay_seconds: float, receives: int = 0) -> None:
        with self._wake:
            heapq.heappush(self._heap, (time.monotonic() + max(delay_seconds, 0), next(self._order), message, receives))
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._wake.wait(timeout=(self._heap[0][0] - time.monotonic()) if self._heap else None)
                if self._stopped:
                    return
                _, _, message, receives = heapq.heappop(self._heap)
            self._pool.submit(self._deliver, message, receives)

    def _deliver(self, message: DeliveryMessage, receives: int) -> None:
        assert self.dispatcher is not None
        try:
            self.dispatcher.deliver(message)
        except Exception:
            if receives + 1 >= MAX_RECEIVES:
                logger.exception("webhook delivery message dead-lettered", extra={"event_id": message.event_id})
                return
            logger.exception("webhook delivery failed; redelivering", extra={"event_id": message.event_id})
            self.schedule(message, REDELIVERY_SECONDS, receives + 1)


class StreamFeed:
    """Polls the table's stream and runs each batch through the dispatcher, in order, like the event source mapping."""

    def __init__(self, endpoint: str, table_name: str, dispatcher: WebhookDispatcher) -> None:
        import boto3

        self.table_name = table_name
        self.dispatcher = dispatcher
        self._tables = boto3.client("dynamodb", endpoint_url=endpoint)
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-stream", daemon=True)
        self.stream_arn: str | None = self._tables.describe_table(TableName=table_name)["Table"].get("LatestStreamArn")

    def start(self) -> bool:
        if self.stream_arn is None:
            return False
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        iterators = self._iterators()
        while not self._stopped.is_set():
            busy = False
            for shard_id, iterator in list(iterators.items()):
                if iterator is None:
                    continue
                try:
                    response = self._streams.get_records(ShardIterator=iterator, Limit=100)
                except Exception:
                    logger.exception("reading the local stream failed")
                    self._stopped.wait(REDELIVERY_SECONDS)
                    continue
                records = [lambda_shaped(record) for record in response.get("Records", [])]
                if records:
                    busy = True
                    self._dispatch(records)
                iterators[shard_id] = response.get("NextShardIterator")
            if not busy:
                self._stopped.wait(POLL_SECONDS)

    def _iterators(self) -> dict[str, str | None]:
        assert self.stream_arn is not None
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        return {
            shard["ShardId"]: self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for shard in shards
        }

    def _dispatch(self, records: list[dict[str, Any]]) -> None:
        while records and not self._stopped.is_set():
            failures = handle_stream_batch(self.dispatcher, records)["batchItemFailures"]
            if not failures:
                return
            sequences = [record["dynamodb"].get("SequenceNumber") for record in records]
            failed = failures[0]["itemIdentifier"]
            records = records[sequences.index(failed) :] if failed in sequences else records
            self._stopped.wait(REDELIVERY_SECONDS)


def lambda_shaped(record: Mapping[str, Any]) -> dict[str, Any]:
    """A boto3 GetRecords record as Lambda delivers it (epoch seconds instead of a datetime)."""
    change = dict(record.get("dynamodb") or {})
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": change, "eventSource": "aws:dynamodb"}


class LocalWebhooks:
    """What `vpbx serve` starts: the stream feed and the timer queue around one dispatcher."""

    def __init__(self, endpoint: str, table_name: str, store: WebhookStore) -> None:
        self.queue = LocalDeliveryQueue()
        dispatcher = build_dispatcher(store, queue=self.queue)
        self.queue.start(dispatcher)
        self.feed = StreamFeed(endpoint, table_name, dispatcher)
        self.running = self.feed.start()

    def describe(self) -> str:
        if not self.running:
            return "off (the table has no stream; use the embedded DynamoDB)"
        settings = self.feed.dispatcher.settings
        policy = "loopback https allowed (tests only)" if settings.allow_insecure else "public https only"
        return f"on (stream of {self.feed.table_name}, {policy})"

    def stop(self) -> None:
        self.feed.stop()
        self.queue.stop()
