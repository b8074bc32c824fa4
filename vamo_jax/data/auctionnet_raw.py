"""A streaming reader of AuctionNet's raw period files: 18 columns, one row per (impression, advertiser).

AuctionNet's `pre_generated_dataset/readme_dataset.md` documents the columns (`RAW_COLUMNS`); a
period has ~500k impressions × 48 advertisers = 23M rows. A file is read with a polars lazy scan
(CSV, or Parquet where a user has converted it) and reduced by group-bys to what the project
needs, so a period never sits in memory as rows:

  per (advertiser, step)  `PeriodLog`: sums of bid, pValue, xi, isExposed, cost, conversions,
                          the budget left, and the advertiser's budget, CPA target and category;
  per step                the impression count and the market's statistics (least winning cost,
                          first-slot price, mean value), for the state features and the market series;
  per impression          (with `traffic=True`) `LoggedTraffic`, what the offline evaluator replays:
                          every advertiser's pValue and pValueSigma, the top K+1 bids taking part
                          and their advertisers, and which slots were shown.

The market's rules, shared with the simulator (`vamo_jax.sim.auction`) and applied to the logged
bids: a bid takes part as `min(bid, remainingBudget)`, not at all when the budget left is below
the reserve r or the bid below r (`effective_bid`); the K highest win the slots (ties: the lower
advertiser); slot k pays max(b_(k+1), r) when exposed. The simulator writes the bid before that
cap (`raw_export`); AuctionNet's agents stop bidding on their own below a minimum budget.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import polars as pl

RAW_SCHEMA: dict[str, pl.DataType] = {
    "deliveryPeriodIndex": pl.Int32, "advertiserNumber": pl.Int32, "advertiserCategoryIndex": pl.Int32,
    "budget": pl.Float32, "CPAConstraint": pl.Float32, "timeStepIndex": pl.Int32, "remainingBudget": pl.Float32,
    "pvIndex": pl.Int64, "pValue": pl.Float32, "pValueSigma": pl.Float32, "bid": pl.Float32, "xi": pl.Int32,
    "adSlot": pl.Int32, "cost": pl.Float32, "isExposed": pl.Int32, "conversionAction": pl.Float32,
    "leastWinningCost": pl.Float32, "isEnd": pl.Int32,
}
"""The 18 raw columns and the types they are read as (float32: half the memory of AuctionNet's
float64, and the simulator's own precision)."""
RAW_COLUMNS: tuple[str, ...] = tuple(RAW_SCHEMA)
_PROCESSED = ("state", "action", "reward", "next_state", "done")


@dataclasses.dataclass(frozen=True)
class PeriodLog:
    """One period's per-(advertiser, step) aggregates. N advertisers, T steps.

    Attributes:
      path: the file. period: its deliveryPeriodIndex.
      advertiser: (N,) advertiserNumber of row n (sorted). category, budget, cpa: (N,) its
        advertiserCategoryIndex, budget and CPAConstraint.
      remaining: (N, T) remainingBudget before the step.
      bid, pvalue, xi, exposed, cost, conversions, exposed_value, exposed_conversions: (N, T) sums
        over the step's impressions of bid, pValue, xi, isExposed, cost, conversionAction,
        pValue · isExposed and conversionAction · isExposed.
      volume: (T,) impressions of the step.
      lwc_logged: (T,) Σ leastWinningCost (AuctionNet's: the (K+1)-th bid) over the step's impressions.
      lwc_kth: (T,) Σ max(b_(K), r), the bid needed to take the last slot (the project's).
      first_price, sold: (T,) Σ first-slot price over the impressions with a bid taking part, and their count.
      is_end: (N, T) isEnd.
    """

    path: str
    period: int
    advertiser: np.ndarray
    category: np.ndarray
    budget: np.ndarray
    cpa: np.ndarray
    remaining: np.ndarray
    bid: np.ndarray
    pvalue: np.ndarray
    xi: np.ndarray
    exposed: np.ndarray
    cost: np.ndarray
    conversions: np.ndarray
    exposed_value: np.ndarray
    exposed_conversions: np.ndarray
    volume: np.ndarray
    lwc_logged: np.ndarray
    lwc_kth: np.ndarray
    first_price: np.ndarray
    sold: np.ndarray
    is_end: np.ndarray


@dataclasses.dataclass(frozen=True)
class LoggedTraffic:
    """One period's impressions, per step padded to `capacity` I. K slots, N advertisers.

    Attributes:
      valid: (T, I) bool, a real impression.
      pvalue, sigma: (T, I, N) float32 every advertiser's pValue and pValueSigma.
      top_bid: (T, I, K+1) float32 the K+1 highest bids taking part (`effective_bid`), highest
        first, 0 where fewer. top_adv: (T, I, K+1) int32 their advertisers (row index n), -1 where none.
      shown: (T, I, K) bool, slot k was exposed (the slot's logged holder has isExposed = 1).
    """

    valid: np.ndarray
    pvalue: np.ndarray
    sigma: np.ndarray
    top_bid: np.ndarray
    top_adv: np.ndarray
    shown: np.ndarray


def period_files(directory: str) -> dict[int, str]:
    """{deliveryPeriodIndex: path} of the `period-<index>.csv` / `.parquet` files in `directory`."""
    found: dict[int, str] = {}
    for name in sorted(os.listdir(directory)):
        stem, ext = os.path.splitext(name)
        if ext in (".csv", ".parquet") and stem.startswith("period-") and stem[7:].isdigit():
            index = int(stem[7:])
            if index in found:
                raise ValueError(f"{directory}: period {index} is in both {found[index]} and {name}; keep one.")
            found[index] = os.path.join(directory, name)
    if not found:
        raise ValueError(f"{directory}: no period-<index>.csv or period-<index>.parquet files (AuctionNet's "
                         "raw periods, e.g. period-7.csv).")
    return found


def scan_period(path: str) -> pl.LazyFrame:
    """A lazy scan of the raw file `path` with `RAW_SCHEMA`'s types; raises naming the file and
    the missing columns (and saying so when it is a processed trajectory file)."""
    if path.endswith(".parquet"):
        header = list(pl.scan_parquet(path).collect_schema())
    elif path.endswith(".csv"):
        with open(path, encoding="utf-8-sig") as fh:
            header = [c.strip() for c in fh.readline().rstrip("\r\n").split(",")]
    else:
        raise ValueError(f"{path}: not a .csv or .parquet file.")
    missing = [c for c in RAW_COLUMNS if c not in header]
    if missing:
        hint = ""
        if any(c in header for c in _PROCESSED):
            hint = (" It holds processed trajectories (state/action/reward columns: AuctionNet's "
                    "train_data_generator output, or this project's export); pass the raw period files "
                    "instead, or read the project's export with vamo_jax.data.import_auctionnet.")
        raise ValueError(f"{path}: missing raw column(s) {missing}; AuctionNet's raw format has the 18 columns "
                         f"{list(RAW_COLUMNS)}.{hint}")
    if path.endswith(".parquet"):
        frame = pl.scan_parquet(path).select([pl.col(c).cast(t) for c, t in RAW_SCHEMA.items()])
    else:
        frame = pl.scan_csv(path, schema_overrides=RAW_SCHEMA).select(RAW_COLUMNS)
    return frame


def effective_bid(reserve: float) -> pl.Expr:
    """The bid taking part in the auction: min(bid, remainingBudget), 0 when the budget left or
    the bid is below `reserve` (or the bid is 0)."""
    capped = pl.when(pl.col("remainingBudget") >= reserve).then(
        pl.min_horizontal("bid", "remainingBudget")).otherwise(0.0)
    return pl.when((capped >= reserve) & (capped > 0)).then(capped).otherwise(0.0).cast(pl.Float32)


_TIE = 2.0**-36
"""`_impressions` orders bids by (bid desc, advertiser asc) as one float64 key, bid × (1 + _TIE ×
(_MAX_ADVERTISERS − 1 − n)): a float32 bid's neighbours are ≥ 2^-24 apart relatively and the tie
term stays below 2^-25, so the key's maximum is the highest bid (the lower advertiser on a tie),
and rounding it to float32 gives the bid back. A maximum streams where a top-k does not (2 GB at 23M rows)."""
_MAX_ADVERTISERS = 2048


def _impressions(frame: pl.LazyFrame, num_slots: int) -> pl.LazyFrame:
    """Per impression (timeStepIndex, pvIndex): its rows (`bidders`), leastWinningCost, and for
    each slot k < K the logged holder's bid taking part (`slot_bid{k}`, 0 if unsold), its row
    index n (`slot_adv{k}`, -1) and whether it was shown (`shown{k}`); `next_key`, the highest
    bid of the other rows with its advertiser encoded (`_TIE`). The slots are the logged
    allocation (adSlot), the K highest bids taking part under the market's rules (the
    simulator's files by construction, `tests/data/test_auctionnet_raw.py`). Every aggregation
    is a maximum, so the query streams."""
    slot = [pl.col("adSlot") == k + 1 for k in range(num_slots)]
    n = pl.col("n") if "n" in frame.collect_schema() else pl.lit(0)
    key = pl.col("eff").cast(pl.Float64) * (1.0 + _TIE * (_MAX_ADVERTISERS - 1 - n).cast(pl.Float64))
    return frame.group_by("timeStepIndex", "pvIndex").agg(
        pl.len().alias("bidders"), pl.col("leastWinningCost").first(),
        *(pl.when(s).then(pl.col("eff")).otherwise(0.0).max().alias(f"slot_bid{k}") for k, s in enumerate(slot)),
        *(pl.when(s).then(n).otherwise(-1).max().alias(f"slot_adv{k}") for k, s in enumerate(slot)),
        *(pl.when(s).then(pl.col("isExposed")).otherwise(0).max().alias(f"shown{k}") for k, s in enumerate(slot)),
        pl.when(pl.col("adSlot") == 0).then(key).otherwise(0.0).max().alias("next_key"),
    )


def _collect(frame: pl.LazyFrame, path: str) -> pl.DataFrame:
    try:
        return frame.collect(engine="streaming")
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError) as err:
        raise ValueError(f"{path}: a value does not parse as its column's type ({err}). Every raw column is "
                         "numeric; fix or drop the row.") from None


def read_period(path: str, num_slots: int, reserve: float, ticks: int) -> PeriodLog:
    """The per-(advertiser, step) aggregates of the raw period file `path` (`PeriodLog`).

    Args:
      num_slots: K, slots per impression (AuctionNet: 3). reserve: r (AuctionNet: 0).
      ticks: T, steps per period (AuctionNet: 48); every advertiser must have rows at every step.
    """
    frame = scan_period(path).with_columns(eff=effective_bid(reserve))
    steps = _collect(frame.group_by("advertiserNumber", "timeStepIndex").agg(
        pl.len().alias("rows"),
        *(pl.col(c).min().alias(f"{c}_min") for c in ("deliveryPeriodIndex", "advertiserCategoryIndex", "budget",
                                                         "CPAConstraint", "remainingBudget")),
        *(pl.col(c).max().alias(f"{c}_max") for c in ("deliveryPeriodIndex", "advertiserCategoryIndex", "budget",
                                                         "CPAConstraint", "remainingBudget")),
        pl.col("isEnd").max(),
        *(pl.col(c).cast(pl.Float64).sum() for c in ("bid", "pValue", "xi", "isExposed", "cost",
                                                      "conversionAction")),
        (pl.col("pValue").cast(pl.Float64) * pl.col("isExposed")).sum().alias("exposed_value"),
        (pl.col("conversionAction").cast(pl.Float64) * pl.col("isExposed")).sum().alias("exposed_conversions"),
    ), path).sort("advertiserNumber", "timeStepIndex")
    market = _collect(_impressions(frame, num_slots).group_by("timeStepIndex").agg(
        pl.len().alias("volume"), pl.col("bidders").min().alias("bidders_min"),
        pl.col("bidders").max().alias("bidders_max"),
        pl.col("leastWinningCost").cast(pl.Float64).sum().alias("lwc_logged"),
        pl.max_horizontal(pl.col(f"slot_bid{num_slots - 1}"), reserve).cast(pl.Float64).sum().alias("lwc_kth"),
        pl.when(pl.col("slot_bid0") > 0).then(pl.max_horizontal(pl.col("slot_bid1"), reserve)).otherwise(0.0)
        .cast(pl.Float64).sum().alias("first_price"),
        (pl.col("slot_bid0") > 0).sum().alias("sold"),
    ), path).sort("timeStepIndex")
    return _period_log(path, steps, market, ticks, num_slots)


def _period_log(path: str, steps: pl.DataFrame, market: pl.DataFrame, ticks: int, num_slots: int) -> PeriodLog:
    """Checks the aggregates for a well-formed period and shapes them (N, T)."""
    advertisers = np.unique(steps["advertiserNumber"].to_numpy())
    n = len(advertisers)
    step_ids = market["timeStepIndex"].to_numpy()
    if len(step_ids) != ticks or not np.array_equal(step_ids, np.arange(ticks)):
        raise ValueError(f"{path}: column 'timeStepIndex' holds steps {step_ids.tolist()[:8]}…; a period has "
                         f"steps 0..{ticks - 1} (data.env.ticks_per_day={ticks}).")
    if len(steps) != n * ticks:
        have = set(zip(steps["advertiserNumber"].to_list(), steps["timeStepIndex"].to_list()))
        lack = next((a, t) for a in advertisers for t in range(ticks) if (a, t) not in have)
        raise ValueError(f"{path}: advertiserNumber {lack[0]} has no row at timeStepIndex {lack[1]}; every "
                         "advertiser bids on every impression of the period.")
    bad = market.filter((pl.col("bidders_min") != n) | (pl.col("bidders_max") != n))
    if len(bad):
        raise ValueError(f"{path}: at timeStepIndex {bad['timeStepIndex'][0]} an impression (pvIndex) has "
                         f"{bad['bidders_min'][0]}–{bad['bidders_max'][0]} rows, expected one per advertiser ({n}).")
    if n < num_slots + 1:
        raise ValueError(f"{path}: {n} advertisers; the auction needs more than K={num_slots}.")

    def grid(column):
        return steps[column].to_numpy().reshape(n, ticks)

    for c in ("deliveryPeriodIndex", "advertiserCategoryIndex", "budget", "CPAConstraint"):
        lo, hi = grid(f"{c}_min"), grid(f"{c}_max")
        if np.any(lo != hi) or np.any(lo != lo[:, :1]):
            a = int(advertisers[np.argwhere((lo != hi) | (lo != lo[:, :1]))[0][0]])
            raise ValueError(f"{path}: column {c!r} changes within advertiserNumber {a}'s rows; it must be one value "
                             "per advertiser and period.")
    lo, hi = grid("remainingBudget_min"), grid("remainingBudget_max")
    if np.any(lo != hi):
        n_bad, t_bad = np.argwhere(lo != hi)[0]
        raise ValueError(f"{path}: column 'remainingBudget' varies within step {t_bad} of advertiserNumber "
                         f"{advertisers[n_bad]}; it is the budget left before the step, one value per step.")
    budget, cpa = grid("budget_min")[:, 0], grid("CPAConstraint_min")[:, 0]
    for c, x in (("budget", budget), ("CPAConstraint", cpa)):
        if np.any(~np.isfinite(x)) or np.any(x <= 0):
            raise ValueError(f"{path}: column {c!r} of advertiserNumber {advertisers[np.argmax(~(x > 0))]} is "
                             f"{x[np.argmax(~(x > 0))]}; it must be finite and > 0.")
    remaining = lo
    if np.any(np.diff(remaining, axis=1) > 1e-6 * budget[:, None]):
        n_bad, t_bad = np.argwhere(np.diff(remaining, axis=1) > 1e-6 * budget[:, None])[0]
        raise ValueError(f"{path}: column 'remainingBudget' of advertiserNumber {advertisers[n_bad]} rises at "
                         f"timeStepIndex {t_bad + 1}; the budget left never increases.")
    return PeriodLog(
        path=path, period=int(grid("deliveryPeriodIndex_min")[0, 0]), advertiser=advertisers,
        category=grid("advertiserCategoryIndex_min")[:, 0].astype(np.int32), budget=budget.astype(np.float32),
        cpa=cpa.astype(np.float32), remaining=remaining.astype(np.float32),
        bid=grid("bid"), pvalue=grid("pValue"), xi=grid("xi"), exposed=grid("isExposed"), cost=grid("cost"),
        conversions=grid("conversionAction"), exposed_value=grid("exposed_value"),
        exposed_conversions=grid("exposed_conversions"),
        volume=market["volume"].to_numpy().astype(np.float64), lwc_logged=market["lwc_logged"].to_numpy(),
        lwc_kth=market["lwc_kth"].to_numpy(), first_price=market["first_price"].to_numpy(),
        sold=market["sold"].to_numpy().astype(np.float64), is_end=grid("isEnd").astype(np.int32),
    )


def read_traffic(path: str, log: PeriodLog, num_slots: int, reserve: float, capacity: int) -> LoggedTraffic:
    """The impressions of the period `log` read from `path`, each step padded to `capacity` (`LoggedTraffic`)."""
    ticks, n, k = log.remaining.shape[1], len(log.advertiser), num_slots
    if log.volume.max() > capacity:
        raise ValueError(f"{path}: a step has {int(log.volume.max())} impressions, more than the capacity "
                         f"{capacity}; raise data.capacity.")
    if n > _MAX_ADVERTISERS:
        raise ValueError(f"{path}: {n} advertisers; the reader orders bids of at most {_MAX_ADVERTISERS}.")
    index = pl.LazyFrame({"advertiserNumber": log.advertiser.astype(np.int32), "n": np.arange(n, dtype=np.int32)})
    frame = scan_period(path).join(index, on="advertiserNumber").with_columns(eff=effective_bid(reserve))
    imps = _collect(_impressions(frame, k), path).sort("timeStepIndex", "pvIndex").with_columns(
        pos=pl.int_range(pl.len()).over("timeStepIndex"))
    t_of, pos = imps["timeStepIndex"].to_numpy(), imps["pos"].to_numpy()
    valid = np.zeros((ticks, capacity), bool)
    valid[t_of, pos] = True
    next_key = imps["next_key"].to_numpy()
    next_bid = next_key.astype(np.float32)
    tie = np.where(next_bid > 0, np.rint((next_key / np.where(next_bid > 0, next_bid, 1.0) - 1.0) / _TIE), 0)
    bids = np.stack([*(imps[f"slot_bid{s}"].to_numpy() for s in range(k)), next_bid], -1)
    advs = np.stack([*(imps[f"slot_adv{s}"].to_numpy() for s in range(k)),
                     (_MAX_ADVERTISERS - 1 - tie).astype(np.int64)], -1)
    order = np.lexsort((advs, -bids), axis=-1)  # (bid desc, advertiser asc): the market's order
    bids, advs = np.take_along_axis(bids, order, -1), np.take_along_axis(advs, order, -1)
    top_bid = np.zeros((ticks, capacity, k + 1), np.float32)
    top_adv = np.full((ticks, capacity, k + 1), -1, np.int32)
    top_bid[t_of, pos] = np.where(bids > 0, bids, 0.0)
    top_adv[t_of, pos] = np.where(bids > 0, advs, -1)
    shown = np.zeros((ticks, capacity, k), bool)
    shown[t_of, pos] = np.stack([imps[f"shown{s}"].to_numpy() > 0 for s in range(k)], -1)
    slots = imps.select("pvIndex", flat=(pl.col("timeStepIndex").cast(pl.Int64) * capacity + pl.col("pos")) * n)
    cells = _collect(frame.join(slots.lazy(), on="pvIndex").select(
        (pl.col("flat") + pl.col("n")).alias("flat"), "pValue", "pValueSigma"), path)
    flat = cells["flat"].to_numpy()
    pvalue = np.zeros(ticks * capacity * n, np.float32)
    sigma = np.zeros(ticks * capacity * n, np.float32)
    pvalue[flat], sigma[flat] = cells["pValue"].to_numpy(), cells["pValueSigma"].to_numpy()
    shape = (ticks, capacity, n)
    return LoggedTraffic(valid=valid, pvalue=pvalue.reshape(shape), sigma=sigma.reshape(shape),
                         top_bid=top_bid, top_adv=top_adv, shown=shown)
