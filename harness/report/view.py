"""What the report reads: a results folder (harness.table) and the statistics the stats stage wrote.

`StatsView` holds stats.json's parts as frames with fixed dtypes; `ReportData` pairs it with the
results folder and answers the few questions the tables, figures and conclusion ask. Nothing here
computes a statistic: means and sds shown as descriptions come from `summaries` where they exist.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.report.names import METRICS, order_modalities, order_models, split_side

ROW_FLOATS = ["n", "statistic", "pvalue", "pvalue_adj", "estimate", "ci_low", "ci_high", "ci_coverage",
              "effect_size", "p_left", "p_rope", "p_right", "n_significant", "min_attainable_p"]
ROW_TEXT = ["family", "comparison", "metric", "a", "b", "model_a", "modalities_a", "model_b", "modalities_b",
            "unit", "test", "role", "ci_method", "effect_name", "note"]
ROW_BOOLS = ["equivalent", "significant"]
HEADLINE_FLOATS = ["n", "estimate", "ci_low", "ci_high", "ci_coverage", "p_adj", "min_attainable_p"]
HEADLINE_TEXT = ["family", "comparison", "a", "b", "modalities", "modalities_a", "modalities_b", "metric", "unit",
                 "test", "ci_method", "verdict", "reason"]
SUMMARY_FLOATS = ["n_runs", "n_folds", "mean", "sd", "ci_low", "ci_high", "ci_coverage"]
SUMMARY_TEXT = ["model", "modalities", "metric", "ci_method"]
_TRUE, _FALSE = {"true", "1", "1.0", "yes"}, {"false", "0", "0.0", "no"}


def _flag(value):
    if value is True or value is False:
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else pd.NA


def _frame(records, floats, texts, bools=()) -> pd.DataFrame:
    """A frame of `records` (list of dicts or a DataFrame) with every named column, typed."""
    df = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records or []))
    for col in floats:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float) if col in df else math.nan
    for col in texts:
        df[col] = df[col].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)) \
            if col in df else ""
    for col in bools:
        df[col] = df[col].map(_flag).astype(object) if col in df else pd.NA
    return df.reset_index(drop=True)


@dataclass
class StatsView:
    rows: pd.DataFrame
    headline: pd.DataFrame
    summaries: pd.DataFrame
    ranks: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    notes: tuple = ()
    excluded: dict = field(default_factory=dict)

    @classmethod
    def from_any(cls, stats) -> "StatsView":
        """From a stats.json dict or a StudyStats-like object (attributes of the same names)."""
        if isinstance(stats, StatsView):
            return stats
        get = stats.get if isinstance(stats, dict) else (lambda key, default=None: getattr(stats, key, default))
        rows = get("rows", None)
        if rows is None:
            raise TypeError(f"stats must be a stats.json mapping or a StudyStats; got {type(stats).__name__}")
        head = _frame(get("headline", None), HEADLINE_FLOATS, HEADLINE_TEXT)
        for side in ("modalities_a", "modalities_b"):  # one combination for both sides unless said otherwise
            head[side] = head[side].where(head[side] != "", head["modalities"])
        return cls(rows=_frame(rows, ROW_FLOATS, ROW_TEXT, ROW_BOOLS), headline=head,
                   summaries=_frame(get("summaries", None), SUMMARY_FLOATS, SUMMARY_TEXT),
                   ranks=[dict(r) for r in (get("ranks", None) or [])],
                   meta=dict(get("meta", None) or {}), notes=tuple(get("notes", None) or ()),
                   excluded=dict(get("excluded", None) or {}))

    def primary_row(self, h) -> pd.Series | None:
        """The stats row a headline entry was taken from (same comparison, combination, metric, unit, test)."""
        rows = self.rows
        if rows.empty:
            return None
        mods_a = rows["modalities_a"].where(rows["modalities_a"] != "", rows["a"].map(lambda s: split_side(s)[1]))
        sel = rows[(rows["metric"] == h["metric"]) & (rows["unit"] == h["unit"]) & (rows["test"] == h["test"])
                   & (mods_a == h["modalities_a"])]
        if h["family"]:
            sel = sel[sel["family"] == h["family"]]
        a, b = split_side(h["a"])[0], split_side(h["b"])[0]
        ma = sel["model_a"].where(sel["model_a"] != "", sel["a"].map(lambda s: split_side(s)[0]))
        mb = sel["model_b"].where(sel["model_b"] != "", sel["b"].map(lambda s: split_side(s)[0]))
        sel = sel[(ma == a) & (mb == b)]
        if h["comparison"]:
            by_name = sel[sel["comparison"] == h["comparison"]]
            sel = by_name if len(by_name) else sel
        prim = sel[sel["role"] == "primary"]
        sel = prim if len(prim) else sel
        return sel.iloc[0] if len(sel) else None


def relative_path(path: Path) -> str:
    """A results path as the user would type it: relative to the working folder, else its last two parts."""
    path = Path(path).resolve()
    try:
        rel = os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive (Windows)
        rel = ""
    if rel and not rel.startswith(".."):
        return rel
    return str(Path(path.parent.name) / path.name)


@dataclass
class ReportData:
    """The results folder (harness.table.ResultsFolder) and its statistics (or None)."""

    folder: Any
    stats: StatsView | None
    notes: list = field(default_factory=list)

    # ---- study facts -----------------------------------------------------------------------
    @property
    def study(self):
        return self.folder.study

    @property
    def name(self) -> str:
        return str(self.study.name) if self.study is not None else Path(self.folder.dir).name

    @property
    def data_format(self) -> str:
        return str(self.study.data.format) if self.study is not None else ""

    @property
    def show_paper(self) -> bool:
        """Published values: report.paper_values auto (real IEMOCAP only) | always | never."""
        mode = self.study.report.paper_values if self.study is not None else "auto"
        return mode == "always" or (mode == "auto" and self.data_format == "iemocap_yoon")

    @property
    def figures_enabled(self) -> bool:
        return self.study is None or bool(self.study.report.figures)

    def _setting(self, meta_keys, study_attr, default):
        meta = self.stats.meta if self.stats is not None else {}
        for key in meta_keys:
            if meta.get(key) is not None:
                return meta[key]
        return getattr(self.study.stats, study_attr) if self.study is not None else default

    @property
    def alpha(self) -> float:
        return float(self._setting(("alpha",), "alpha", 0.05))

    @property
    def margin(self) -> float:
        return float(self._setting(("margin", "equivalence_margin"), "equivalence_margin", 0.01))

    @property
    def correction(self) -> str:
        return str(self._setting(("correction",), "correction", "holm"))

    @property
    def corpus(self) -> dict:
        meta = self.stats.meta if self.stats is not None else {}
        return dict(meta.get("corpus") or {})

    def class_names(self, k: int | None = None) -> list[str]:
        names = (self.corpus.get("class_names") or self.corpus.get("classes")
                 or (list(self.study.data.classes) if self.study is not None else []))
        if k is not None and len(names) != k:
            return [f"class {i}" for i in range(k)]
        return [str(n) for n in names]

    # ---- runs --------------------------------------------------------------------------------
    @cached_property
    def ok(self) -> pd.DataFrame:
        runs = self.folder.runs
        ok = runs[runs["status"] == "ok"].reset_index(drop=True).copy()
        for col in [c for c in ok.columns if c.startswith(("test_", "dev_"))] + ["train_seconds", "epochs"]:
            if col in ok:
                ok[col] = pd.to_numeric(ok[col], errors="coerce")
        return ok

    @property
    def models(self) -> list[str]:
        preferred = list(self.study.models) if self.study is not None else []
        return order_models(self.ok["model"], preferred)

    def order(self, models) -> list[str]:
        return [m for m in self.models if m in set(models)]

    @property
    def modalities(self) -> list[str]:
        return order_modalities(self.ok["modalities"])

    def select(self, model: str | None = None, modalities: str | None = None) -> pd.DataFrame:
        sel = self.ok
        if model is not None:
            sel = sel[sel["model"] == model]
        if modalities is not None:
            sel = sel[sel["modalities"] == modalities]
        return sel

    def summary(self, model: str, modalities: str, metric: str) -> dict:
        """n, mean, sd (and the stats' CI) of one cell: stats.json `summaries`, else the runs described."""
        if self.stats is not None and not self.stats.summaries.empty:
            s = self.stats.summaries
            hit = s[(s["model"] == model) & (s["modalities"] == modalities) & (s["metric"] == metric)]
            if len(hit):
                r = hit.iloc[0]
                return {"n": r["n_runs"], "mean": r["mean"], "sd": r["sd"], "ci_low": r["ci_low"],
                        "ci_high": r["ci_high"], "ci_method": r["ci_method"], "ci_coverage": r["ci_coverage"],
                        "source": "stats"}
        col = f"test_{metric}"
        v = self.select(model, modalities)[col].dropna().to_numpy(dtype=float) if col in self.ok else np.array([])
        return {"n": float(len(v)), "mean": float(v.mean()) if len(v) else math.nan,
                "sd": float(v.std(ddof=1)) if len(v) > 1 else math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "ci_method": "", "ci_coverage": math.nan, "source": "runs"}

    @property
    def metrics(self) -> list[str]:
        return [m for m in METRICS if f"test_{m}" in self.ok.columns]

    @property
    def primary(self) -> dict:
        """The declared primary analysis (stats meta, else the study's stats.primary)."""
        meta = self.stats.meta if self.stats is not None else {}
        prim = meta.get("primary") or {}
        if not prim and self.study is not None and getattr(self.study.stats, "primary", None) is not None:
            p = self.study.stats.primary
            prim = {"metric": p.metric, "unit": p.unit, "test": p.test}
        return dict(prim)

    @property
    def headline(self) -> pd.DataFrame:
        return self.stats.headline if self.stats is not None else pd.DataFrame()
