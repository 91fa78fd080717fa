"""Dead letters: list them with their errors, and re-inject them after a fix.

A message a consumer could not understand lies on `<topic>.dlq`, unchanged, with
headers naming the error (see `services.adapters.broker.consumer`). `replay` publishes
each dead letter not replayed yet back to its original topic (same key, same value,
plus an `x-replayed-from` header) and remembers how far it went in the consumer
group `premiers-mois-dlq-replay`, so a second replay does not send the same ones
again. A message that is still wrong goes back to the dead letters with a new error.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from services.adapters.broker.bus import EventBus, KafkaBus, Outgoing
from services.config.settings import Settings, SettingsError
from services.domain.topics import BUSINESS_EVENTS_DLQ, JOURNEY_EVENTS_DLQ

DEAD_LETTER_TOPICS = (BUSINESS_EVENTS_DLQ, JOURNEY_EVENTS_DLQ)
REPLAY_GROUP = "premiers-mois-dlq-replay"
PREVIEW = 120


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    error: str
    original_topic: str
    failed_at: str
    replayed: bool
    error_class: str = ""  # the exception's class, when processing raised
    service_version: str = ""  # the version of the service that refused it

    @property
    def preview(self) -> str:
        text = self.value[:PREVIEW].decode("utf-8", "replace")
        return text.replace("\n", " ") + ("…" if len(self.value) > PREVIEW else "")


async def read_dead_letters(
    bootstrap: str, topics: Sequence[str] = DEAD_LETTER_TOPICS
) -> list[DeadLetter]:
    """Every dead letter on `topics`, oldest first per partition; `replayed` tells
    whether `replay` already re-injected it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=REPLAY_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
    )
    await consumer.start()
    try:
        letters: list[DeadLetter] = []
        for partition, committed, records in await _read_all(consumer, topics):
            for record in records:
                letters.append(_dead_letter(partition, record, replayed=record.offset < committed))
        return letters
    finally:
        await consumer.stop()


async def replay(
    bootstrap: str,
    bus: EventBus,
    topics: Sequence[str] = DEAD_LETTER_TOPICS,
    *,
    only_offsets: Iterable[int] | None = None,
) -> list[DeadLetter]:
    """Re-inject the dead letters not replayed yet (or, with `only_offsets`, just those
    among them) into their original topics; return what was re-injected."""
    wanted = set(only_offsets) if only_offsets is not None else None
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=REPLAY_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=10_000,
    )
    await consumer.start()
    try:
        replayed: list[DeadLetter] = []
        marks: dict[TopicPartition, OffsetAndMetadata] = {}
        for partition, committed, records in await _read_all(consumer, topics):
            chosen = [
                _dead_letter(partition, record, replayed=False)
                for record in records
                if record.offset >= committed and (wanted is None or record.offset in wanted)
            ]
            await bus.publish_many(
                [
                    Outgoing(
                        letter.original_topic,
                        letter.key,
                        letter.value,
                        headers={"x-replayed-from": f"{letter.topic}:{letter.offset}"},
                    )
                    for letter in chosen
                ]
            )
            replayed.extend(chosen)
            if records and wanted is None:
                marks[partition] = OffsetAndMetadata(records[-1].offset + 1, "")
        if marks:
            await consumer.commit(marks)
        return replayed
    finally:
        await consumer.stop()


async def _read_all(
    consumer: AIOKafkaConsumer, topics: Sequence[str]
) -> list[tuple[TopicPartition, int, list[Any]]]:
    """(partition, committed offset of the replay group, records up to the end)."""
    partitions: list[TopicPartition] = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic)
        if ids is None:
            await consumer.force_metadata_update()
            ids = consumer.partitions_for_topic(topic) or set()
        partitions.extend(TopicPartition(topic, p) for p in sorted(ids))
    if not partitions:
        return []
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.beginning_offsets(partitions)
    result = []
    for partition in partitions:
        committed = await consumer.committed(partition)
        start = starts[partition]
        consumer.seek(partition, start)
        records: list[Any] = []
        while ends[partition] > start and (not records or records[-1].offset + 1 < ends[partition]):
            batch = await consumer.getmany(partition, timeout_ms=5_000)
            got = batch.get(partition, [])
            if not got:
                break
            records.extend(got)
        result.append((partition, committed if committed is not None else start, records))
    return result


def _dead_letter(partition: TopicPartition, record: Any, *, replayed: bool) -> DeadLetter:
    headers = {
        name: value.decode("utf-8", "replace")
        for name, value in (getattr(record, "headers", None) or ())
    }
    key = getattr(record, "key", None) or b""
    return DeadLetter(
        topic=partition.topic,
        partition=partition.partition,
        offset=int(getattr(record, "offset", -1)),
        key=key.decode("utf-8", "replace"),
        value=getattr(record, "value", None) or b"",
        error=headers.get("x-error", "?"),
        original_topic=headers.get("x-original-topic", partition.topic.removesuffix(".dlq")),
        failed_at=headers.get("x-failed-at", "?"),
        replayed=replayed,
        error_class=headers.get("x-error-class", ""),
        service_version=headers.get("x-service-version", ""),
    )


def print_dead_letters(letters: Sequence[DeadLetter], out: TextIO, *, as_json: bool) -> None:
    if as_json:
        rows = []
        for letter in letters:
            row = asdict(letter)
            row["value"] = letter.value.decode("utf-8", "replace")
            rows.append(row)
        out.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not letters:
        out.write("aucun message en lettre morte\n")
        return
    for letter in letters:
        state = "rejoué" if letter.replayed else "en attente"
        out.write(
            f"{letter.topic}[{letter.partition}]@{letter.offset}  clé {letter.key or '-'}  "
            f"{letter.failed_at}  {state}\n"
            f"    erreur : {letter.error}\n"
            f"    message : {letter.preview}\n"
        )
    waiting = sum(not letter.replayed for letter in letters)
    out.write(f"{len(letters)} message(s), dont {waiting} en attente de rejeu\n")


async def command(settings: Settings, action: str, args: argparse.Namespace, out: TextIO) -> int:
    """`premiers-mois dlq list|replay`."""
    if not settings.kafka_bootstrap:
        raise SettingsError("PM_KAFKA_BOOTSTRAP: required by `dlq`")
    topics = tuple(args.topic) if args.topic else DEAD_LETTER_TOPICS
    if action == "list":
        letters = await read_dead_letters(settings.kafka_bootstrap, topics)
        print_dead_letters(letters, out, as_json=args.json)
        return 0
    bus = KafkaBus(
        settings.kafka_bootstrap,
        client_id="premiers-mois-dlq",
        compression=settings.kafka_compression,
    )
    await bus.start()
    try:
        done = await replay(settings.kafka_bootstrap, bus, topics, only_offsets=args.offset)
    finally:
        await bus.stop()
    for letter in done:
        out.write(f"rejoué : {letter.topic}@{letter.offset} -> {letter.original_topic}\n")
    out.write(f"{len(done)} message(s) réinjecté(s)\n")
    return 0
