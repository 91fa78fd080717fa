"""Bounces in the formats of the common mail servers: each one, sent to the return path of
one letter, marks that letter (and no other) with the right verdict."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.adapters.store.migrate import upgrade_async
from services.application.inbound.reports import parse, read_report
from tests.inbound import samples
from tests.inbound.conftest import Mailbox, open_mailbox


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Mailbox]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    async with open_mailbox(url) as opened:
        yield opened


@pytest.mark.parametrize("case", samples.CASES, ids=lambda case: case.server)
def test_each_format_reads_as_its_verdict_with_its_reason(case: samples.Case) -> None:
    report = read_report(parse(case.make("r-x@retour.example", "jeanne@exemple.fr", "<k@e>")))
    assert report.verdict == case.verdict
    assert case.reason_has in report.reason
    assert "jeanne@exemple.fr" not in report.reason


@pytest.mark.parametrize("case", samples.CASES, ids=lambda case: case.server)
async def test_each_format_finds_its_letter(box: Mailbox, case: samples.Case) -> None:
    # Jeanne and Paul each received their welcome letter
    jeanne = await box.person("jeanne.martin@exemple.fr")
    paul = await box.person("paul.durand@exemple.fr")
    jeanne_path = await box.send(jeanne.letters[0])
    await box.send(paul.letters[0])
    # a server sends back a report about Jeanne's letter to its return path
    await box.deliver(jeanne_path, case.make(jeanne_path, jeanne.email, "<x@urssaf.example>"))
    # her letter carries the verdict; Paul's is untouched
    async with box.store.transaction() as tx:
        hers = await tx.step(jeanne.letters[0])
        his = await tx.step(paul.letters[0])
    assert hers is not None and his is not None
    assert hers.bounce == (None if case.verdict == "other" else case.verdict)
    assert his.bounce is None
