"""The dashboard (api-surface DB1) and the portfolio figures, read from the credit read models in
a few set-based aggregate statements: no per-facility work in Python, so it is cheap to poll.

- ``dashboard``: one statement (one snapshot): facility counts and sums over ``credit_facilities``,
  outstanding by obligation status over ``credit_obligations`` (the partial covering index of
  migration 0102_dashboard_indexes holds every open obligation's status, due date and outstanding).
- ``portfolio``: the same outstanding by status, the CVL bands of the open facilities and the
  delinquency aging buckets, in one statement. The CVL is computed here from each facility's
  collateral and outstanding at the latest price (credit.md §3.1, the formula of
  ``domain.credit.cvl.cvl``), not read from the stored ``cvl`` column: the price pass only rewrites
  the facilities whose state it moves, so a stored CVL can be older than the price.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.credit.status import FacilityStatus, ObligationStatus, PendingStatus, Stage
from domain.dashboard.portfolio import AGING_BUCKETS, CVL_BANDS, OUTSTANDING_STATUSES, CvlBand

_OPEN = f"('{FacilityStatus.ACTIVE.value}', '{FacilityStatus.MATURED.value}')"
_OUTSTANDING = "(" + ", ".join(f"'{s.value}'" for s in OUTSTANDING_STATUSES) + ")"

_FACILITIES = f"""
  SELECT count(*) FILTER (WHERE stage = '{Stage.PENDING.value}'
                            AND pending_status = '{PendingStatus.PENDING_COLLATERALIZATION.value}') AS pending,
         count(*) FILTER (WHERE stage = '{Stage.ACTIVE.value}' AND status IN {_OPEN}) AS active,
         COALESCE(sum(disbursed_cents) FILTER (WHERE stage = '{Stage.ACTIVE.value}'), 0)::bigint AS disbursed,
         COALESCE(sum(collateral_sats) FILTER (WHERE stage = '{Stage.PENDING.value}'
                                                 OR status IN {_OPEN}), 0)::bigint AS collateral
    FROM credit_facilities
   WHERE stage IN ('{Stage.PENDING.value}', '{Stage.ACTIVE.value}')"""

_BY_STATUS = f"""
  SELECT status, count(*) AS n, COALESCE(sum(outstanding_cents), 0)::bigint AS cents
    FROM credit_obligations WHERE status IN {_OUTSTANDING} GROUP BY status"""

_DASHBOARD = text(f"""
WITH f AS ({_FACILITIES}), o AS ({_BY_STATUS})
SELECT now() AS as_of, f.pending, f.active, f.disbursed, f.collateral,
       (SELECT COALESCE(jsonb_object_agg(status, jsonb_build_array(n, cents)), '{{}}') FROM o) AS by_status
  FROM f""")


def _aging_case() -> str:
    """The aging bucket of an obligation, as SQL (from ``AGING_BUCKETS``; ``:as_of`` the date)."""
    dpd = f"(CASE WHEN status = '{ObligationStatus.NOT_YET_DUE.value}' THEN 0 ELSE GREATEST(CAST(:as_of AS date) - due_date, 0) END)"
    arms = [f"WHEN {dpd} <= {b.high} THEN '{b.name}'" for b in AGING_BUCKETS if b.high is not None]
    last = next(b for b in AGING_BUCKETS if b.high is None)
    return f"CASE {' '.join(arms)} ELSE '{last.name}' END"


# CVL = truncate(floor(sats × price / 1e8) / outstanding, 2) × 100 (credit.md §3.1), computed once
# per facility; NULL when nothing is outstanding: no exposure (its CVL is infinite, or 0 without
# collateral, and there is no loan to measure).
_CVL = ("trunc(floor(f.collateral_sats::numeric * p.price / 100000000) / NULLIF(f.outstanding_cents, 0), 2) * 100")
_BAND_CASE = f"""CASE WHEN x.cvl IS NULL THEN '{CvlBand.NO_EXPOSURE.value}'
     WHEN x.cvl < x.liquidation THEN '{CvlBand.BELOW_LIQUIDATION.value}'
     WHEN x.cvl < x.margin_call THEN '{CvlBand.LIQUIDATION_TO_MARGIN_CALL.value}'
     WHEN x.cvl < x.initial THEN '{CvlBand.MARGIN_CALL_TO_INITIAL.value}'
     ELSE '{CvlBand.ABOVE_INITIAL.value}' END"""
# The columns _BAND_CASE reads, from credit_facilities f and the price p.
_BAND_INPUT = (f"{_CVL} AS cvl, (f.terms->>'liquidation_cvl')::numeric AS liquidation, "
               "(f.terms->>'margin_call_cvl')::numeric AS margin_call, (f.terms->>'initial_cvl')::numeric AS initial")

_PORTFOLIO = text(f"""
WITH p AS (SELECT (SELECT usd_cents_per_btc FROM price_latest WHERE id = 1) AS price),
o AS ({_BY_STATUS}),
a AS (SELECT {_aging_case()} AS bucket, count(*) AS n, COALESCE(sum(outstanding_cents), 0)::bigint AS cents
        FROM credit_obligations WHERE status IN {_OUTSTANDING} AND outstanding_cents > 0 GROUP BY 1),
b AS (SELECT {_BAND_CASE} AS band, count(*) AS n, COALESCE(sum(x.outstanding_cents), 0)::bigint AS cents,
             COALESCE(sum(x.collateral_sats), 0)::bigint AS sats
        FROM (SELECT f.outstanding_cents, f.collateral_sats, {_BAND_INPUT}
                FROM credit_facilities f, p
               WHERE f.stage = '{Stage.ACTIVE.value}' AND f.status IN {_OPEN} AND p.price IS NOT NULL) x
       GROUP BY 1)
SELECT now() AS as_of, (SELECT price FROM p) AS price,
       (SELECT COALESCE(jsonb_object_agg(status, jsonb_build_array(n, cents)), '{{}}') FROM o) AS by_status,
       (SELECT COALESCE(jsonb_object_agg(bucket, jsonb_build_array(n, cents)), '{{}}') FROM a) AS aging,
       (SELECT COALESCE(jsonb_object_agg(band, jsonb_build_array(n, cents, sats)), '{{}}') FROM b) AS bands,
       (SELECT count(*) FROM credit_facilities f
         WHERE f.stage = '{Stage.ACTIVE.value}' AND f.status IN {_OPEN}) AS open_facilities""")


def _by_status(raw: dict[str, list[int]]) -> dict[ObligationStatus, dict[str, int]]:
    return {s: {"count": int(raw.get(s.value, [0, 0])[0]), "cents": int(raw.get(s.value, [0, 0])[1])}
            for s in OUTSTANDING_STATUSES}


async def dashboard(conn: AsyncConnection) -> dict[str, Any]:
    """Pending and active facility counts, total disbursed (cents, every activated facility, closed
    ones too, as lana's dashboard counts it), total collateral (sats, pending and open facilities)
    and the outstanding by obligation status (cents, with the obligation count)."""
    row = (await conn.execute(_DASHBOARD)).one()
    return {"as_of": row.as_of, "pending_facilities": int(row.pending), "active_facilities": int(row.active),
            "total_disbursed_cents": int(row.disbursed), "total_collateral_sats": int(row.collateral),
            "outstanding": _by_status(row.by_status)}


async def portfolio(conn: AsyncConnection, aging_date: date) -> dict[str, Any]:
    """Outstanding by status, CVL bands of the open facilities at the latest price (empty without a
    price) and the aging buckets as of ``aging_date`` (days past due = aging date − due date)."""
    row = (await conn.execute(_PORTFOLIO, {"as_of": aging_date})).one()
    bands = {b: dict(zip(("count", "outstanding_cents", "collateral_sats"), row.bands.get(b.value, [0, 0, 0]),
                         strict=True)) for b in CVL_BANDS}
    aging = [{"bucket": b.name, "low_days": max(b.low, 0), "high_days": b.high,
              "count": int(row.aging.get(b.name, [0, 0])[0]), "cents": int(row.aging.get(b.name, [0, 0])[1])}
             for b in AGING_BUCKETS]
    return {"as_of": row.as_of, "aging_date": aging_date, "price_cents": row.price,
            "open_facilities": int(row.open_facilities), "outstanding": _by_status(row.by_status),
            "cvl_bands": bands, "aging": aging}

