"""AuctionNet-format trajectory files: export our logs, import logs written in that format.

Layout of a directory:
  day_DD.csv   one file per day; one row per (episode, advertiser, tick) with the columns
               `ROW_COLUMNS` (AuctionNet's trajectory columns plus ours, described below);
  market.csv   one row per (episode, day, tick), days 0..D−1, columns `MARKET_COLUMNS`:
               the market series the temporal module reads (optional on import: zeros if absent).

Row columns:
  deliveryPeriodIndex   day (1..num_days)           episode          independent market index
  advertiserNumber      advertiser index            advertiserCategoryIndex  its category
  campaign              gmv | dir_gmv | cart        budget           daily budget
  CPAConstraint         our constraint: target ROI (gmv, dir_gmv) or target cost per cart (cart)
  timeStepIndex         tick 0..T−1                 remainingBudget  budget left before the tick
  cost                  spend in the tick           state            "(s_0, …, s_15)"
  action                bid multiplier a_t          reward           realised value, own campaign
  reward_continuous     expected value, own campaign    done             1 at the last tick
  next_state            "(…)", zeros at the last tick
  reward_gmv, reward_dir_gmv, reward_cart                     realised value of each channel
  reward_continuous_gmv, reward_continuous_dir_gmv, reward_continuous_cart   expected values
Floats are written with 9 significant digits, which round-trips float32 exactly.
"""

from __future__ import annotations

import csv
import glob
import os
import warnings

import numpy as np

from vamo_jax.data.config import DataConfig
from vamo_jax.data.dataset import Dataset, Split, compute_norm_stats
from vamo_jax.data.spec import STATE_DIM, CAMPAIGN_NAMES
from vamo_jax.data.tasks import advertiser_tasks

ROW_COLUMNS: tuple[str, ...] = (
    "deliveryPeriodIndex", "episode", "advertiserNumber", "advertiserCategoryIndex", "campaign", "budget",
    "CPAConstraint", "timeStepIndex", "remainingBudget", "cost", "state", "action", "reward",
    "reward_continuous", "done", "next_state",
    *(f"reward_{t}" for t in CAMPAIGN_NAMES), *(f"reward_continuous_{t}" for t in CAMPAIGN_NAMES),
)
MARKET_COLUMNS: tuple[str, ...] = (
    "episode", "deliveryPeriodIndex", "timeStepIndex", "marketVolume", "marketValue", "marketPrice")


def _f(x) -> str:
    return "%.9g" % x


def _vec(v) -> str:
    return "(" + ", ".join(_f(x) for x in v) + ")"


def returns_to_go(rewards: np.ndarray, task: np.ndarray, budget: np.ndarray, unit) -> np.ndarray:
    """(M, T) Σ_{t' ≥ t} rewards[t', task] × unit[task] / budget, in float32."""
    unit = np.asarray(unit, np.float32)
    own = np.take_along_axis(rewards, task[:, None, None], axis=2)[..., 0] * unit[task][:, None]
    return (np.flip(np.cumsum(np.flip(own, 1), 1), 1) / budget[:, None]).astype(np.float32)


def export_auctionnet(dataset: Dataset, out_dir: str) -> list[str]:
    """Writes every split of `dataset` as `day_DD.csv` files plus `market.csv`; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    by_day: dict[int, list] = {}
    for name in ("train", "val", "test"):
        s = dataset.split(name)
        arr = {k: np.asarray(v) for k, v in s.items() if k != "market"}
        t_total = arr["actions"].shape[1]
        for j in range(arr["campaign"].shape[0]):
            campaign = int(arr["campaign"][j])
            rows = by_day.setdefault(int(arr["day"][j]), [])
            for t in range(t_total):
                rows.append((
                    int(arr["day"][j]), int(arr["episode"][j]), int(arr["advertiser"][j]), int(arr["category"][j]),
                    CAMPAIGN_NAMES[campaign], _f(arr["budget"][j]), _f(arr["constraint"][j]), t,
                    _f(arr["remaining"][j, t]), _f(arr["cost"][j, t]), _vec(arr["states"][j, t]),
                    _f(arr["actions"][j, t]), _f(arr["rewards"][j, t, campaign]),
                    _f(arr["rewards_continuous"][j, t, campaign]), int(t == t_total - 1),
                    _vec(arr["next_states"][j, t]),
                    *(_f(x) for x in arr["rewards"][j, t]), *(_f(x) for x in arr["rewards_continuous"][j, t]),
                ))
    paths = []
    for days in dataset.config.split_days().values():  # a file for every day, even without rows
        for day in days:
            by_day.setdefault(day, [])
    for day, rows in sorted(by_day.items()):
        path = os.path.join(out_dir, f"day_{day:02d}.csv")
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(ROW_COLUMNS)
            w.writerows(rows)
        paths.append(path)
    path = os.path.join(out_dir, "market.csv")
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(MARKET_COLUMNS)
        e_total, d_total, t_total, _ = dataset.market.shape
        for e in range(e_total):
            for d in range(d_total):
                for t in range(t_total):
                    w.writerow((e, d, t, *(_f(x) for x in dataset.market[e, d, t])))
    return paths + [path]


def _read(path: str, required: tuple[str, ...]):
    """Yields (line number, {column: text}); a UTF-8 byte-order mark (Excel's CSV) is read as such."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file; expected a header with columns {list(required)}.")
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; required columns: {list(required)}.")
        col = {c: header.index(c) for c in required}
        for line, row in enumerate(reader, start=2):
            yield line, {c: row[i] if i < len(row) else "" for c, i in col.items()}


def _parse(path, line, column, text, kind):
    try:
        if kind == "vec":
            v = np.array([np.float32(x) for x in text.strip().strip("()").split(",")], np.float32)
            if v.shape != (STATE_DIM,) or not np.all(np.isfinite(v)):
                raise ValueError
            return v
        if kind == "campaign":
            return CAMPAIGN_NAMES.index(text)
        if kind == "int":
            return int(text)
        x = np.float32(float(text))
        if not np.isfinite(x):  # NaN, ±inf, or beyond float32's range
            raise ValueError
        return x
    except ValueError:
        want = {"vec": f"a tuple of {STATE_DIM} finite numbers", "campaign": f"one of {CAMPAIGN_NAMES}",
                "int": "an integer", "float": "a finite number"}[kind]
        raise ValueError(f"{path}:{line}: column {column!r} holds {text!r}, expected {want}.") from None


_KINDS = {"deliveryPeriodIndex": "int", "episode": "int", "advertiserNumber": "int",
          "advertiserCategoryIndex": "int", "campaign": "campaign", "timeStepIndex": "int", "done": "int",
          "state": "vec", "next_state": "vec"}


def import_auctionnet(in_dir: str, config: DataConfig) -> Dataset:
    """Reads `day_*.csv` (and `market.csv`) from `in_dir` into a `Dataset` split by `config`'s days.

    Every value is checked as it is read: numbers finite, days and ticks in range, and each
    (episode, day, advertiser) a consistent trajectory (`_check_trajectory`). Raises ValueError
    naming the file, line and column of the first bad value, or the missing columns.
    """
    files = sorted(glob.glob(os.path.join(in_dir, "day_*.csv")))
    if not files:
        raise ValueError(f"{in_dir}: no day_*.csv files.")
    trajs = _read_trajectories(files, config)
    market = _read_market(os.path.join(in_dir, "market.csv"), 1 + max(k[0] for k in trajs), config)
    learning = _learning_tasks(trajs, config)
    splits = {}
    for name, days in config.split_days().items():
        keys = [k for k in trajs if k[1] in days]
        keys.sort(key=lambda k: (learning[k], k[1], k[0], k[2]))
        splits[name] = _to_split(keys, trajs, market, config.env.ticks_per_day, config, learning)
    return Dataset(config=config, stats=compute_norm_stats(splits["train"]), market=market, **splits)


def _read_trajectories(files: list[str], config: DataConfig) -> dict[tuple, dict]:
    """{(episode, day, advertiser): {"ticks": {t: row values}, "where": {t: (path, line)}}}."""
    t_total = config.env.ticks_per_day
    trajs: dict[tuple, dict] = {}
    for path in files:
        for line, r in _read(path, ROW_COLUMNS):
            v = {c: _parse(path, line, c, r[c], _KINDS.get(c, "float")) for c in ROW_COLUMNS}
            key = (v["episode"], v["deliveryPeriodIndex"], v["advertiserNumber"])
            t = v["timeStepIndex"]
            _need(0 <= t < t_total, path, line, "timeStepIndex", t, f"outside 0..{t_total - 1}")
            _need(1 <= key[1] <= config.num_days, path, line, "deliveryPeriodIndex", key[1],
                  f"outside 1..{config.num_days} (data.num_days)")
            _need(key[0] >= 0, path, line, "episode", key[0], "negative")
            _need(key[2] >= 0, path, line, "advertiserNumber", key[2], "negative")
            tr = trajs.setdefault(key, {"ticks": {}, "where": {}})
            if t in tr["ticks"]:
                raise ValueError(f"{path}:{line}: duplicate tick {t} of (episode, day, advertiser)={key}.")
            tr["ticks"][t], tr["where"][t] = v, (path, line)
    for key, tr in trajs.items():
        _check_trajectory(key, tr, t_total)
        tr["meta"] = tr["ticks"][0]
    return trajs


def _need(ok: bool, path: str, line: int, column: str, value, problem: str) -> None:
    if not ok:
        raise ValueError(f"{path}:{line}: column {column!r} holds {_show(value)}: {problem}.")


def _show(x) -> str:
    return _f(x) if isinstance(x, (float, np.floating)) else str(x)


def _check_trajectory(key: tuple, tr: dict, t_total: int) -> None:
    """One (episode, day, advertiser)'s rows form one trajectory: every tick present; one budget,
    constraint, campaign and category; cost ≥ 0; remainingBudget ≤ budget and non-increasing;
    `reward` the own campaign's channel; next_state the next tick's state; done at the last tick."""
    ticks, where = tr["ticks"], tr["where"]
    if len(ticks) != t_total:
        missing = sorted(set(range(t_total)) - set(ticks))[:5]
        path, line = where[min(ticks)]
        raise ValueError(f"{path}:{line}: (episode, day, advertiser)={key} lacks ticks {missing}….")
    first, (path0, line0) = ticks[0], where[0]
    _need(first["budget"] > 0, path0, line0, "budget", first["budget"], "a budget must be > 0")
    for t in range(t_total):
        v, (path, line) = ticks[t], where[t]
        for col in ("budget", "CPAConstraint", "campaign", "advertiserCategoryIndex"):
            name = CAMPAIGN_NAMES.__getitem__ if col == "campaign" else _show
            _need(v[col] == first[col], path, line, col, name(v[col]),
                  f"its tick 0 ({path0}:{line0}) holds {name(first[col])}, and every row of (episode, day, "
                  f"advertiser)={key} must hold the same")
        _need(v["cost"] >= 0, path, line, "cost", v["cost"], "a cost must be ≥ 0")
        limit = first["budget"] if t == 0 else ticks[t - 1]["remainingBudget"]
        what = "the budget" if t == 0 else f"tick {t - 1}'s remainingBudget"
        _need(v["remainingBudget"] <= limit * (1 + 1e-6), path, line, "remainingBudget", v["remainingBudget"],
              f"more than {what} {_f(limit)}; the budget left never increases")
        campaign = CAMPAIGN_NAMES[v["campaign"]]
        for col in ("reward", "reward_continuous"):
            own = v[f"{col}_{campaign}"]
            _need(np.isclose(v[col], own, rtol=1e-6, atol=0), path, line, col, v[col],
                  f"it must equal {col}_{campaign}={_f(own)}, the campaign's own channel")
        nxt = ticks[t + 1]["state"] if t + 1 < t_total else np.zeros(STATE_DIM, np.float32)
        _need(np.array_equal(v["next_state"], nxt), path, line, "next_state", _vec(v["next_state"]),
              "it must equal the next tick's state (zeros at the last tick)")
        done = int(t == t_total - 1)
        _need(v["done"] == done, path, line, "done", v["done"], f"tick {t} of {t_total} needs done={done}")


def _read_market(path: str, num_episodes: int, config: DataConfig) -> np.ndarray:
    """(E, D, T, 3) market series from `path` (E: at least `num_episodes`); zeros, with a
    warning, if there is no such file."""
    days, t_total = config.num_days + 1, config.env.ticks_per_day
    if not os.path.exists(path):
        warnings.warn(f"{path} not found: the market history is zeros.")
        return np.zeros((num_episodes, days, t_total, 3), np.float32)
    rows = {}
    for line, r in _read(path, MARKET_COLUMNS):
        e, d, t = (_parse(path, line, c, r[c], "int") for c in MARKET_COLUMNS[:3])
        for column, i, size in (("episode", e, None), ("deliveryPeriodIndex", d, days), ("timeStepIndex", t, t_total)):
            _need(i >= 0 and (size is None or i < size), path, line, column, i,
                  "negative" if size is None else f"outside 0..{size - 1}")
        rows[e, d, t] = [_parse(path, line, c, r[c], "float") for c in MARKET_COLUMNS[3:]]
    market = np.zeros((max(num_episodes, 1 + max((k[0] for k in rows), default=0)), days, t_total, 3), np.float32)
    for index, values in rows.items():
        market[index] = values
    return market


def _learning_tasks(trajs, config: DataConfig) -> dict:
    """Learning task per trajectory: its campaign type, or (K > 3) its advertiser's sub-task."""
    if config.num_tasks == len(CAMPAIGN_NAMES):
        return {k: v["meta"]["campaign"] for k, v in trajs.items()}
    sub = advertiser_tasks(config.env, config.num_tasks)
    out = {}
    for k in trajs:
        if not 0 <= k[2] < len(sub):
            raise ValueError(f"advertiserNumber={k[2]} is outside 0..{len(sub) - 1}: with DataConfig.num_tasks > 3 "
                             "the tasks follow env.num_advertisers; set it to the logs' advertiser count.")
        out[k] = int(sub[k[2]])
    return out


def _to_split(keys, trajs, market, t_total, config, learning) -> Split:
    def stack(col, dtype=np.float32):
        return np.array([[trajs[k]["ticks"][t][col] for t in range(t_total)] for k in keys], dtype).reshape(
            (len(keys), t_total) + np.shape(trajs[keys[0]]["ticks"][0][col]) if keys else (0, t_total))

    def meta(col, dtype):
        return np.array([trajs[k]["meta"][col] for k in keys], dtype)

    def channels(prefix):
        chans = [stack(f"{prefix}_{t}") for t in CAMPAIGN_NAMES]
        return np.stack(chans, -1) if keys else np.zeros((0, t_total, 3), np.float32)

    campaign, budget = meta("campaign", np.int32), meta("budget", np.float32)
    rewards = channels("reward")
    states = stack("state") if keys else np.zeros((0, t_total, STATE_DIM), np.float32)
    next_states = stack("next_state") if keys else np.zeros((0, t_total, STATE_DIM), np.float32)
    return Split(
        states=states, next_states=next_states, actions=stack("action"), rewards=rewards,
        rewards_continuous=channels("reward_continuous"),
        returns_to_go=returns_to_go(rewards, campaign, budget, config.env.unit_value),
        cost=stack("cost"), remaining=stack("remainingBudget"), budget=budget,
        constraint=meta("CPAConstraint", np.float32), campaign=campaign,
        task=np.array([learning[k] for k in keys], np.int32),
        day=np.array([k[1] for k in keys], np.int32), episode=np.array([k[0] for k in keys], np.int32),
        advertiser=np.array([k[2] for k in keys], np.int32),
        category=meta("advertiserCategoryIndex", np.int32), market=market,
    )
