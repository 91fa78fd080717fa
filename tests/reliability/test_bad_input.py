"""Bad input through the real broker: whatever the registry sends that is not a valid
event (not JSON, wrong types, huge strings, bad SIREN, odd unicode, missing fields,
unknown types) lands in `business.events.dlq`, unchanged, with its reason, and the
valid messages around it are processed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.adapters.broker.embedded import EmbeddedKafka
from services.adapters.broker.topics import ensure_topics
from services.adapters.catcher import MailCatcher
from services.adapters.store.migrate import upgrade_async
from services.commands.dlq import read_dead_letters
from services.domain.events import InvalidEvent, parse_business_event
from services.domain.siren import luhn_valid
from services.domain.topics import BUSINESS_EVENTS, BUSINESS_EVENTS_DLQ
from tests.flow.harness import Story, services, settings_for
from tests.support import as_bytes, business_created, new_siren, until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

KNOWN_TYPES = {
    "business.created",
    "business.regime_changed",
    "business.closed",
    "business.contact_changed",
    "account.created",
}
REQUIRED = (
    "type",
    "event_id",
    "occurred_at",
    "siren",
    "regime",
    "activity_start",
    "email",
    "first_name",
    "last_name",
    "department",
)
STRING_FIELDS = ("type", "event_id", "siren", "regime", "email", "first_name", "department")


def _changed(field: str, value: Any) -> dict[str, Any]:
    return {"set": field, "value": value}


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (UnicodeDecodeError, ValueError):
        return False


wrong_types = st.builds(
    _changed,
    st.sampled_from(STRING_FIELDS),
    st.one_of(
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    ),
)
huge_strings = st.builds(
    _changed,
    st.sampled_from(("first_name", "last_name", "email", "event_id", "department", "siren")),
    st.integers(min_value=50_000, max_value=300_000).map(lambda n: "é" * n),
)
bad_sirens = st.builds(
    _changed,
    st.just("siren"),
    st.one_of(
        st.from_regex(r"\A[0-9]{9}\Z").filter(lambda s: not luhn_valid(s)),
        st.from_regex(r"\A[0-9]{1,8}\Z"),
        st.from_regex(r"\A[0-9]{10,14}\Z"),
        st.text(max_size=12).filter(lambda s: not (s.isascii() and s.isdigit())),
    ),
)
odd_unicode = st.builds(
    _changed,
    st.sampled_from(("siren", "department", "regime", "type")),
    st.one_of(
        st.just("７３２８２９３２０"),  # full-width digits
        st.just("٧٣٢٨٢٩٣٢٠"),  # Arabic-Indic digits
        st.just("mісro"),  # Cyrillic і and с
        st.just("1\u200b4"),  # a zero-width space
        st.just("business.created\u202e"),  # a right-to-left override
        st.text(
            alphabet=st.characters(min_codepoint=0x80, exclude_categories=("Cs",)),
            min_size=1,
            max_size=12,
        ),
    ),
)
missing_fields = st.builds(lambda field: {"drop": field}, st.sampled_from(REQUIRED))
unknown_types = st.builds(
    _changed, st.just("type"), st.text(max_size=40).filter(lambda t: t not in KNOWN_TYPES)
)
mutations = st.one_of(
    wrong_types, huge_strings, bad_sirens, odd_unicode, missing_fields, unknown_types
)
not_json = st.binary(max_size=300).filter(lambda raw: not _is_json_object(raw))
bad_messages = st.lists(
    st.one_of(not_json.map(lambda raw: {"raw": raw}), mutations), min_size=3, max_size=8
)


def bad_bytes(siren: str, recipe: dict[str, Any]) -> bytes:
    """A business.created for `siren` spoiled as `recipe` says."""
    if "raw" in recipe:
        raw: bytes = recipe["raw"]
        return raw
    event = business_created(siren=siren)
    if "drop" in recipe:
        del event[recipe["drop"]]
    else:
        event[recipe["set"]] = recipe["value"]
    return json.dumps(event, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
async def kafka() -> AsyncIterator[EmbeddedKafka]:
    broker = EmbeddedKafka()
    await broker.start()
    await ensure_topics(broker.bootstrap)
    yield broker
    await broker.stop()


@pytest.fixture(scope="module")
async def intake(
    kafka: EmbeddedKafka, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Story]:
    var: Path = tmp_path_factory.mktemp("bad-input")
    url = f"sqlite+aiosqlite:///{var / 'store.db'}"
    await upgrade_async(url)
    catcher = MailCatcher()
    await catcher.start()
    async with services(settings_for(url, var), kafka.bootstrap, catcher, names=("intake",)) as s:
        yield s
    await catcher.stop()


@pytest.fixture(scope="module")
async def producer(kafka: EmbeddedKafka) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap, acks="all", max_request_size=4 * 2**20
    )
    await client.start()
    yield client
    await client.stop()


@pytest.fixture(scope="module")
def tried() -> Iterator[Counter[str]]:
    """The kinds of bad input sent, printed at the end for the record."""
    kinds: Counter[str] = Counter()
    yield kinds
    print(f"\nbad inputs tried through the broker: {dict(sorted(kinds.items()))}")


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(recipes=bad_messages)
async def test_bad_messages_land_in_the_dead_letters_and_the_good_ones_around_them_go_through(
    intake: Story,
    kafka: EmbeddedKafka,
    producer: AIOKafkaProducer,
    tried: Counter[str],
    recipes: list[dict[str, Any]],
) -> None:
    siren = new_siren()
    key = siren.encode()
    bad = [bad_bytes(siren, recipe) for recipe in recipes]
    for raw in bad:  # every one is refused by the parser on its own
        with pytest.raises(InvalidEvent):
            parse_business_event(raw)
    # the registry sends a good event, the bad ones, then a good one again (one partition)
    created = business_created(siren=siren, email=f"{siren}@example.fr", first_name="Avant")
    await producer.send_and_wait(BUSINESS_EVENTS, as_bytes(created), key=key)
    for raw in bad:
        await producer.send_and_wait(BUSINESS_EVENTS, raw, key=key)
    after = {
        "type": "business.contact_changed",
        "event_id": f"after-{siren}",
        "occurred_at": created["occurred_at"],
        "siren": siren,
        "first_name": "Après",
    }
    await producer.send_and_wait(BUSINESS_EVENTS, as_bytes(after), key=key)

    # the good ones are applied: the business is enrolled, then its contact changed
    async def both_good_ones_applied() -> bool:
        async with intake.runtime.store.transaction() as tx:
            enrollment = await tx.active_enrollment(siren)
        return enrollment is not None and enrollment.first_name == "Après"

    await until(both_good_ones_applied, timeout=60)

    # every bad one is on the dead-letter topic, unchanged, with a reason
    letters = [
        letter
        for letter in await read_dead_letters(kafka.bootstrap, (BUSINESS_EVENTS_DLQ,))
        if letter.key == siren
    ]
    assert Counter(letter.value for letter in letters) == Counter(bad)
    assert all(letter.error and letter.error != "?" for letter in letters)
    assert {letter.original_topic for letter in letters} == {BUSINESS_EVENTS}
    for recipe in recipes:
        kind = "drop" if "drop" in recipe else "raw" if "raw" in recipe else "set"
        tried[
            {"raw": "not JSON", "drop": "missing field"}.get(kind, f"bad {recipe.get(kind)}")
        ] += 1
