"""The console's dashboard, read in one screen: per letter of each track, how many were
sent, failed, expired and how many people unsubscribed right after it (as rates); the
share of people who created their online account after their first letter, by track and
month of start; the same figures as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.adapters.store import uptake
from services.adapters.store.console.rates import (
    AccountShare,
    LetterRates,
    account_shares,
    letter_rates,
)
from services.web.console.auth import CurrentAdviser, current_adviser
from services.web.console.pages import page
from services.web.console.words import TRACKS, step_title
from services.web.deps import deps_of

router = APIRouter(prefix="/conseillers", dependencies=[Depends(current_adviser)])


def percent(part: int, whole: int) -> str:
    """ "12,5 %" (French: comma, narrow no-break space), or "–" when nothing to divide."""
    if not whole:
        return "–"
    return f"{100 * part / whole:.1f}".replace(".", ",") + "\u202f%"


def month_label(month: date) -> str:
    return format_date(month, "MMMM y", locale="fr_FR")


def _row(journeys_dir: Any, rates: LetterRates) -> dict[str, Any]:
    done = rates.sent + rates.failed + rates.expired
    return {
        "title": step_title(journeys_dir, rates.track, rates.step_id),
        "rates": rates,
        "sent_rate": percent(rates.sent, done),
        "failed_rate": percent(rates.failed, done),
        "expired_rate": percent(rates.expired, done),
        "unsubscribed_rate": percent(rates.unsubscribed_after, rates.sent),
        "bar": round(100 * rates.sent / done) if done else 0,
    }


async def _figures(request: Request) -> tuple[list[LetterRates], list[AccountShare]]:
    async with deps_of(request).store.transaction() as tx:
        return await letter_rates(tx), await account_shares(tx)


@router.get("/tableau-de-bord", response_class=HTMLResponse)
async def dashboard(request: Request, adviser: CurrentAdviser) -> Response:
    deps = deps_of(request)
    rates, shares = await _figures(request)
    async with deps.store.transaction() as tx:
        bookings = await uptake.booking_figures(tx)
    tracks = []
    for track, label in TRACKS.items():
        rows = [_row(deps.settings.journeys_dir, r) for r in rates if r.track == track]
        track_shares = [s for s in shares if s.track == track]
        reached = sum(s.reached for s in track_shares)
        created = sum(s.created_after for s in track_shares)
        tracks.append(
            {
                "track": track,
                "label": label,
                "rows": rows,
                "shares": [
                    {
                        "month": month_label(s.month),
                        "share": s,
                        "rate": percent(s.created_after, s.reached),
                    }
                    for s in track_shares
                ],
                "account_rate": percent(created, reached),
                "reached": reached,
                "bookings": bookings.get(
                    track, {"booked": 0, "cancelled": 0, "registrations": 0, "unsubscribed": 0}
                ),
            }
        )
    return page(request, adviser, "dashboard.html", {"track_figures": tracks})


@router.get("/tableau-de-bord.csv")
async def dashboard_csv(request: Request, adviser: CurrentAdviser) -> Response:
    """The same figures for a spreadsheet: one line per letter, then one per month of start
    (semicolons and a BOM, as French spreadsheets expect)."""
    del adviser
    journeys_dir = deps_of(request).settings.journeys_dir
    rates, shares = await _figures(request)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        ["parcours", "étape", "titre", "prévus", "envoyés", "en échec", "expirés",
         "désabonnements après", "taux d'envoi", "taux d'échec", "taux d'expiration",
         "taux de désabonnement"]
    )  # fmt: skip
    for r in rates:
        row = _row(journeys_dir, r)
        writer.writerow(
            [r.track, r.step_id, row["title"], r.due, r.sent, r.failed, r.expired,
             r.unsubscribed_after, row["sent_rate"], row["failed_rate"], row["expired_rate"],
             row["unsubscribed_rate"]]
        )  # fmt: skip
    writer.writerow([])
    writer.writerow(
        ["parcours", "mois de début", "personnes ayant reçu la 1re lettre",
         "comptes en ligne créés après", "part"]
    )  # fmt: skip
    for s in shares:
        writer.writerow(
            [s.track, s.month.strftime("%Y-%m"), s.reached, s.created_after,
             percent(s.created_after, s.reached)]
        )  # fmt: skip
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tableau-de-bord.csv"'},
    )
