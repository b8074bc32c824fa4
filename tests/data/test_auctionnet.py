"""AuctionNet-format export/import: exact round trip, clear errors, the CLI."""

import csv
import os

import numpy as np
import pytest

from vamo_jax import data
from vamo_jax.data.__main__ import main
from tests.data.conftest import CONFIG


@pytest.fixture(scope="module")
def exported(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("logs")
    data.export_auctionnet(dataset, str(out))
    return out


def test_round_trip_is_exact(dataset, exported):
    back = data.import_auctionnet(str(exported), CONFIG)
    np.testing.assert_array_equal(back.market, dataset.market)
    for name in ("train", "val", "test"):
        a, b = dataset.split(name), back.split(name)
        for field in data.Split.__dataclass_fields__:
            np.testing.assert_array_equal(np.asarray(getattr(a, field)), np.asarray(getattr(b, field)),
                                          err_msg=f"{name}.{field}")


def test_files_and_columns(exported):
    days = sorted(p for p in os.listdir(exported) if p.startswith("day_"))
    assert days == [f"day_{d:02d}.csv" for d in (*CONFIG.train_days, CONFIG.val_day, CONFIG.test_day)]
    with open(exported / days[0]) as fh:
        header = next(csv.reader(fh))
    for col in ("deliveryPeriodIndex", "advertiserNumber", "campaign", "timeStepIndex", "budget",
                "remainingBudget", "cost", "done", "state", "action", "reward", "reward_continuous", "next_state"):
        assert col in header


def _rewrite(src, dst, edit):
    with open(src) as fh:
        rows = list(csv.reader(fh))
    rows = edit(rows)
    with open(dst, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_bad_row_and_missing_column_are_named(exported, tmp_path):
    src = exported / "day_01.csv"

    def bad_cost(rows):
        rows[4][rows[0].index("cost")] = "lots"
        return rows

    _rewrite(src, tmp_path / "day_01.csv", bad_cost)
    with pytest.raises(ValueError, match=r"day_01.csv:5: column 'cost' holds 'lots'"):
        data.import_auctionnet(str(tmp_path), CONFIG)

    def drop_budget(rows):
        i = rows[0].index("budget")
        return [r[:i] + r[i + 1:] for r in rows]

    _rewrite(src, tmp_path / "day_01.csv", drop_budget)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['budget'\]"):
        data.import_auctionnet(str(tmp_path), CONFIG)


def test_cli_writes_the_logs(dataset, tmp_path, capsys):
    main(["--config", "tiny", "--out", str(tmp_path)])
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "market.csv").exists() and (tmp_path / "day_10.csv").exists()
