"""AuctionNet-format export/import: exact round trip, clear errors, the CLI."""

import csv
import os

import jax
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


def _rewrite(src, dst, edit, encoding="utf-8"):
    with open(src) as fh:
        rows = list(csv.reader(fh))
    rows = edit(rows)
    with open(dst, "w", newline="", encoding=encoding) as fh:
        csv.writer(fh).writerows(rows)


def _set(column, value, row=3):
    """An edit putting `value` in `column` of data row `row` (line row + 1; row 3 is tick 2 of the
    file's first trajectory)."""

    def edit(rows):
        rows[row][rows[0].index(column)] = value
        return rows

    return edit


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


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("reward_gmv", "nan", r"day_01.csv:4: column 'reward_gmv' holds 'nan', expected a finite number\."),
        ("reward", "nan", r"day_01.csv:4: column 'reward' holds 'nan', expected a finite number\."),
        ("budget", "inf", r"day_01.csv:4: column 'budget' holds 'inf', expected a finite number\."),
        ("budget", "1e9", r"day_01.csv:4: column 'budget' holds 1e\+09: its tick 0 \(.*day_01.csv:2\) holds "),
        ("cost", "-1", r"day_01.csv:4: column 'cost' holds -1: a cost must be ≥ 0\."),
        ("remainingBudget", "1e6", r"day_01.csv:4: column 'remainingBudget' holds 1000000: more than tick 1's "),
        ("done", "1", r"day_01.csv:4: column 'done' holds 1: tick 2 of \d+ needs done=0\."),
        ("state", "(1, 2)", r"day_01.csv:4: column 'state' holds '\(1, 2\)', expected a tuple of 16 finite"),
        ("next_state", "(" + ", ".join(["0"] * 16) + ")", r"day_01.csv:4: column 'next_state' .* next tick's state"),
    ],
)
def test_every_bad_value_is_named_by_file_line_and_column(exported, tmp_path, column, value, message):
    _rewrite(exported / "day_01.csv", tmp_path / "day_01.csv", _set(column, value))
    with pytest.raises(ValueError, match=message):
        data.import_auctionnet(str(tmp_path), CONFIG)


@pytest.mark.filterwarnings("ignore:.*market.csv not found")
def test_a_byte_order_mark_is_read(exported, tmp_path):
    plain, bom = tmp_path / "plain", tmp_path / "bom"
    for folder, encoding in ((plain, "utf-8"), (bom, "utf-8-sig")):
        folder.mkdir()
        _rewrite(exported / "day_01.csv", folder / "day_01.csv", lambda rows: rows, encoding)
    assert (bom / "day_01.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    a, b = data.import_auctionnet(str(plain), CONFIG), data.import_auctionnet(str(bom), CONFIG)
    assert a.train.size > 0
    for x, y in zip(jax.tree.leaves(a.train), jax.tree.leaves(b.train)):
        np.testing.assert_array_equal(x, y)


def test_cli_writes_the_logs(dataset, tmp_path, capsys):
    main(["--config", "tiny", "--out", str(tmp_path)])
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "market.csv").exists() and (tmp_path / "day_10.csv").exists()
