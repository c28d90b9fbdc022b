"""Report: tables traceable to runs.csv, a conclusion written from the statistics, atomic build."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as st

from harness.errors import UserError
from harness.report import build_report
from harness.report.conclusion import conclusion_paragraphs
from harness.report.render_text import latex_escape
from harness.report.results import Results
from harness.report.statsview import StatsView
from harness.report.tables import ablation_table, accounting_table, main_table, per_fold_table

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fake_results", ROOT / "benchmarks" / "fake_results.py")
fake_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake_results)
make_fake_results = fake_results.make_fake_results

HAS_ANALYSIS = importlib.util.find_spec("harness.analysis") is not None


# ------------------------------------------------------------------------------------------ helpers
def _holm(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    adj = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adj[i] = running
    return adj


def fixture_stats(results_dir: Path, margin: float = 0.01, alpha: float = 0.05) -> pd.DataFrame:
    """A stats table in the stats.csv schema, computed with scipy (stands in for harness.analysis)."""
    runs = pd.read_csv(results_dir / "runs.csv")
    ok = runs[runs["status"] == "ok"]
    rows = []

    def pair(model_a, mod_a, model_b, mod_b, metric, family):
        a = ok[(ok.model == model_a) & (ok.modalities == mod_a)].set_index(["fold", "seed"])[f"test_{metric}"]
        b = ok[(ok.model == model_b) & (ok.modalities == mod_b)].set_index(["fold", "seed"])[f"test_{metric}"]
        j = pd.concat([a.rename("a"), b.rename("b")], axis=1).dropna()
        base = dict(family=family, metric=metric, a=f"{model_a}:{mod_a}", b=f"{model_b}:{mod_b}", model_a=model_a,
                    modalities_a=mod_a, model_b=model_b, modalities_b=mod_b)
        d = (j["b"] - j["a"]).to_numpy()
        fm = j.groupby(level="fold").mean()
        dfold = (fm["b"] - fm["a"]).to_numpy()
        for unit, dd in (("run", d), ("fold", dfold)):
            n = len(dd)
            t = st.ttest_1samp(dd, 0.0)
            half = st.t.ppf(0.975, n - 1) * dd.std(ddof=1) / np.sqrt(n)
            rows.append({**base, "unit": unit, "test": "paired_t", "n": n, "statistic": t.statistic,
                         "pvalue": t.pvalue, "estimate": dd.mean(), "ci_low": dd.mean() - half,
                         "ci_high": dd.mean() + half, "effect_size": dd.mean() / dd.std(ddof=1),
                         "effect_name": "cohen_dz"})
            w = st.wilcoxon(dd)
            rows.append({**base, "unit": unit, "test": "wilcoxon", "n": n, "statistic": w.statistic,
                         "pvalue": w.pvalue, "estimate": float(np.median(dd))})
        n = len(d)
        se = d.std(ddof=1) / np.sqrt(n)
        p_tost = max(st.t.sf((d.mean() + margin) / se, n - 1), st.t.cdf((d.mean() - margin) / se, n - 1))
        rows.append({**base, "unit": "run", "test": "tost", "n": n, "pvalue": p_tost, "estimate": d.mean(),
                     "equivalent": bool(p_tost < alpha)})
        rows.append({**base, "unit": "run", "test": "bayes_signrank", "n": n, "estimate": d.mean(),
                     "p_left": float(np.mean(d < -margin)), "p_rope": float(np.mean(np.abs(d) <= margin)),
                     "p_right": float(np.mean(d > margin))})

    mods = [m for m in ["AV", "AT", "VT", "AVT"]
            if ((ok.model == "self") & (ok.modalities == m)).any() and ((ok.model == "cross") & (ok.modalities == m)).any()]
    for metric in ("accuracy", "balanced_accuracy"):
        for m in mods:
            pair("self", m, "cross", m, metric, "self_vs_cross")
        abl = [m for m in ["self", "cross", "cross_self", "self_nosp", "cross_nosp"]
               if ((ok.model == m) & (ok.modalities == "AVT")).any()]
        if len(abl) >= 3:
            tab = ok[ok.modalities == "AVT"].pivot_table(index=["fold", "seed"], columns="model",
                                                         values=f"test_{metric}")[abl].dropna()
            fr = st.friedmanchisquare(*tab.to_numpy().T)
            rows.append(dict(family="ablation_AVT", metric=metric, a="", b="", unit="run", test="friedman",
                             n=len(tab), statistic=fr.statistic, pvalue=fr.pvalue))
    df = pd.DataFrame(rows)
    df["pvalue_adj"] = np.nan
    for _, idx in df.groupby(["family", "metric", "unit", "test"]).groups.items():
        p = df.loc[idx, "pvalue"].to_numpy(dtype=float)
        if np.isfinite(p).all():
            df.loc[idx, "pvalue_adj"] = _holm(p)
    df["significant"] = [pd.NA if np.isnan(p) else bool(p < alpha) for p in df["pvalue_adj"]]
    for col in ["model_a", "modalities_a", "model_b", "modalities_b", "statistic", "ci_low", "ci_high",
                "effect_size", "effect_name", "p_left", "p_rope", "p_right", "equivalent", "n_significant", "note"]:
        if col not in df.columns:
            df[col] = pd.NA
    return df


def stats_for(results_dir: Path):
    """The statistics: harness.analysis when it exists, else the scipy fixture written as stats.csv."""
    if HAS_ANALYSIS:
        from harness import analysis

        stats = analysis.analyze(results_dir)
        analysis.write_stats(stats, results_dir)
        return stats
    df = fixture_stats(results_dir)
    df.to_csv(results_dir / "stats.csv", index=False)
    return df


def write_hand_made(folder: Path, rows: list[dict], plan_extra: list[dict] = (), data_format="synthetic") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cols = ["run_id", "model", "modalities", "fold", "seed", "status", "epochs", "best_epoch", "train_seconds",
            "n_params", "device", "dev_accuracy", "dev_balanced_accuracy", "test_accuracy",
            "test_balanced_accuracy", "error"]
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df.columns:
            df[c] = None
    df[cols].to_csv(folder / "runs.csv", index=False)
    plan = [{k: r[k] for k in ("run_id", "model", "modalities", "fold", "seed")} for r in rows] + list(plan_extra)
    (folder / "plan.json").write_text(json.dumps({"runs": plan}))
    study = {"name": "hand-made", "data": {"format": data_format, "path": "/gone", "classes": ["a", "b", "c", "d"],
                                           "fingerprint": "abc123"},
             "models": ["self", "cross"], "stats": {"alpha": 0.05, "equivalence_margin": 0.01}}
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    return folder


def _hand_rows():
    rng = np.random.default_rng(3)
    rows = []
    for model, mod, fold, seed in itertools.product(["self", "cross"], ["AV", "AVT"], [1, 2], [1, 2, 3]):
        rows.append({"run_id": f"{model}-{mod}-{fold}-{seed}", "model": model, "modalities": mod, "fold": fold,
                     "seed": seed, "status": "ok", "epochs": int(rng.integers(10, 30)), "best_epoch": 5,
                     "train_seconds": float(rng.uniform(10, 100)), "n_params": 1000, "device": "cpu",
                     "test_accuracy": round(float(rng.uniform(0.5, 0.7)), 4),
                     "test_balanced_accuracy": round(float(rng.uniform(0.4, 0.6)), 4)})
    for model in ["self_nosp", "cross_self"]:
        for fold, seed in itertools.product([1, 2], [1, 2, 3]):
            rows.append({"run_id": f"{model}-AVT-{fold}-{seed}", "model": model, "modalities": "AVT", "fold": fold,
                         "seed": seed, "status": "ok", "epochs": 12, "best_epoch": 4, "train_seconds": 20.0,
                         "n_params": 900, "device": "cpu",
                         "test_accuracy": round(float(rng.uniform(0.5, 0.7)), 4),
                         "test_balanced_accuracy": round(float(rng.uniform(0.4, 0.6)), 4)})
    rows.append({"run_id": "self-T-1-1", "model": "self", "modalities": "T", "fold": 1, "seed": 1,
                 "status": "failed", "train_seconds": 3.0, "error": "RuntimeError: boom"})
    return rows


# ------------------------------------------------------------------------------------------ tables
def test_tables_equal_values_recomputed_from_runs(tmp_path):
    rows = _hand_rows()
    folder = write_hand_made(tmp_path / "res", rows,
                             plan_extra=[{"run_id": "x", "model": "self", "modalities": "A", "fold": 1, "seed": 1}])
    res = Results.load(folder)
    df = pd.DataFrame(rows)
    ok = df[df.status == "ok"]

    main = main_table(res)
    for (model, mod), g in ok[ok.model.isin(["self", "cross"])].groupby(["model", "modalities"]):
        rec = main.data[(main.data.model == model) & (main.data.modalities == mod)].iloc[0]
        assert rec["n"] == len(g)
        for metric in ("accuracy", "balanced_accuracy"):
            assert rec[f"{metric}_mean"] == pytest.approx(g[f"test_{metric}"].mean())
            assert rec[f"{metric}_std"] == pytest.approx(g[f"test_{metric}"].std(ddof=1))
    # display: percent, 1 decimal, WA = balanced accuracy first
    g = ok[(ok.model == "self") & (ok.modalities == "AVT")]
    expected = f"{100 * g.test_balanced_accuracy.mean():.1f} ± {100 * g.test_balanced_accuracy.std():.1f}"
    row = main.display[main.display[("", "Modalities")] == "AVT"].iloc[0]
    assert row[("Self-attention", "WA (%)")] == expected
    md = main.to_markdown()
    assert expected in md and "WA = balanced accuracy (mean per-class recall), UWA = accuracy" in md
    assert "paper" not in " ".join(map(str, main.display.columns))  # synthetic data: no published values

    abl = ablation_table(res)
    assert list(abl.data.model) == ["self", "cross", "cross_self", "self_nosp"]
    g = ok[(ok.model == "cross_self") & (ok.modalities == "AVT")]
    assert abl.display.set_index("Model").loc["cross_self", "UWA"] == (
        f"{g.test_accuracy.mean():.3f} ({g.test_accuracy.std(ddof=1):.3f})")

    pf = per_fold_table(res, "accuracy")
    for (model, mod, fold), g in ok.groupby(["model", "modalities", "fold"]):
        rec = pf.data[(pf.data.model == model) & (pf.data.modalities == mod)].iloc[0]
        assert rec[f"fold_{fold}"] == pytest.approx(g.test_accuracy.mean())

    acct = accounting_table(res).data.set_index("model")
    assert acct.loc["self", "planned"] == 1 + 1 + 12  # 12 ok + failed T + unfinished A
    assert acct.loc["self", "ok"] == 12 and acct.loc["self", "failed"] == 1
    assert acct.loc["self", "not_finished"] == 1
    assert acct.loc["all", "total_train_seconds"] == pytest.approx(df.train_seconds.sum())
    assert acct.loc["cross", "mean_epochs"] == pytest.approx(ok[ok.model == "cross"].epochs.mean())


def test_paper_values_shown_for_iemocap(tmp_path):
    folder = write_hand_made(tmp_path / "res", _hand_rows(), data_format="iemocap_yoon")
    res = Results.load(folder)
    main = main_table(res)
    row = main.display[main.display[("", "Modalities")] == "AVT"].iloc[0]
    assert row[("Self-attention", "WA paper")] == "58.7" and row[("Self-attention", "UWA paper")] == "64.2"
    assert row[("Cross-attention", "WA paper")] == "57.8" and row[("Cross-attention", "UWA paper")] == "63.6"
    assert "arXiv 2202.09263" in main.to_markdown()
    abl = ablation_table(res).display.set_index("Model")
    assert abl.loc["self_nosp", "WA paper"] == "0.584 (0.021)"
    assert abl.loc["cross_self", "UWA paper"] == "0.642 (0.020)"


# ------------------------------------------------------------------------------------------ conclusion
def _avt_study(tmp_path: Path, name: str, skill: dict) -> Path:
    return make_fake_results(tmp_path / name, grid=[("self", "AVT"), ("cross", "AVT"), ("self_nosp", "AVT")],
                             n_folds=5, n_seeds=4, n_utterances=1500, skill=skill, write_predictions=True,
                             write_history=False, seed=7)


def test_conclusion_flips_when_the_data_flip(tmp_path):
    texts = {}
    for name, skill in {"cross_better": {"cross": 0.40, "self": 0.25, "self_nosp": 0.25},
                        "self_better": {"cross": 0.25, "self": 0.40, "self_nosp": 0.25}}.items():
        folder = _avt_study(tmp_path, name, skill)
        stats = stats_for(folder)
        res = Results.load(folder)
        paras = conclusion_paragraphs(res, StatsView.from_any(stats), 0.05, 0.01)
        texts[name] = paras
        report = build_report(folder, tmp_path / f"rep_{name}", stats=stats)
        assert paras[0] in report.read_text()
    first = {k: next(p for p in v if p.startswith("AVT, balanced accuracy (WA)")) for k, v in texts.items()}
    summary = {k: v[0] for k, v in texts.items()}
    assert first["cross_better"].startswith("AVT, balanced accuracy (WA): cross-attention is higher")
    assert first["self_better"].startswith("AVT, balanced accuracy (WA): self-attention is higher")
    assert "cross-attention is significantly higher on AVT" in summary["cross_better"]
    assert "self-attention is significantly higher on AVT" in summary["self_better"]
    for text in first.values():
        assert "significant after Holm at the run level" in text
        assert "not significant after Holm at the run level" not in text
        assert "at the fold level" in text
        assert "Equivalence within ±1 point:" in text and "does not show equivalence" in text
    # the estimate's sign follows the data: cross − self is positive in one study, negative in the other
    assert re.search(r"cross − self = \+\d", first["cross_better"])
    assert re.search(r"cross − self = −\d", first["self_better"])
    assert any("Friedman" in p for p in texts["cross_better"])


def test_conclusion_without_stats_still_says_which_is_higher(tmp_path):
    folder = _avt_study(tmp_path, "nostats", {"cross": 0.3, "self": 0.2})
    paras = conclusion_paragraphs(Results.load(folder), None, 0.05, 0.01)
    assert paras[0].startswith("AVT, balanced accuracy (WA): cross-attention is higher")
    assert "No significance tests are available" in paras[0]


# ------------------------------------------------------------------------------------------ the report
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    folder = make_fake_results(base / "results", n_runs=14 * 10, n_folds=5, n_seeds=2, n_utterances=1200,
                               skill={"cross": 0.1}, n_failed=2)
    stats_for(folder)
    assert not Path("/nonexistent/fake-data-for-timing-only").exists()  # the data folder does not exist
    report = build_report(folder, base / "reports" / "study")
    return folder, report


def test_report_builds_from_results_folder_alone(built):
    folder, report = built
    out = report.parent
    assert report.name == "report.md" and report.is_file()
    md = report.read_text()
    for piece in ["# Report: fake-for-timing-only", "Data fingerprint", "```yaml", "Total compute",
                  "torch version (runs)", "## Conclusion", "Run accounting", "Significance tests",
                  "FOR TIMING ONLY", "WA = balanced accuracy (mean per-class recall)"]:
        assert piece in md, piece
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert len(pngs) >= 4, pngs
    for png in pngs:
        assert (out / "figures" / png).with_suffix(".pdf").is_file()
        assert f"figures/{png}" in md
    tables = sorted(p.name for p in (out / "tables").glob("*.tex"))
    assert {"main.tex", "ablation.tex", "accounting.tex", "per_fold_accuracy.tex"} <= set(tables)
    assert any(t.startswith("stats_self_vs_cross") for t in tables)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


def _check_latex(text: str) -> None:
    body = re.sub(r"\\begin\{verbatim\}.*?\\end\{verbatim\}", "", text, flags=re.S)
    body = body.replace(r"\{", "").replace(r"\}", "")
    depth = 0
    for ch in body:
        depth += ch == "{"
        depth -= ch == "}"
        assert depth >= 0
    assert depth == 0
    envs = re.findall(r"\\(begin|end)\{(\w+\*?)\}", text)
    stack = []
    for kind, env in envs:
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, env
    assert not stack
    for line in body.splitlines():  # specials escaped outside math/commands
        assert not re.search(r"(?<!\\)[%#]", line.split("%")[0] if line.startswith("%") else line), line


def test_latex_is_well_formed_and_compiles(built, tmp_path):
    _, report = built
    out = report.parent
    tex = (out / "report.tex").read_text()
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert r"\usepackage{booktabs}" in tex and r"\toprule" in tex
    _check_latex(tex)
    for table in (out / "tables").glob("*.tex"):
        content = table.read_text()
        _check_latex("\n".join(l for l in content.splitlines() if not l.startswith("%")))
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not on PATH: compilation not checked")
    work = tmp_path / "tex"
    shutil.copytree(out, work)
    for _ in range(2):  # twice, for longtable widths
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=work,
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stdout[-3000:]
    assert (work / "report.pdf").stat().st_size > 10_000
    # each table alone compiles in a minimal document
    doc = work / "one.tex"
    for table in (out / "tables").glob("*.tex"):
        doc.write_text("\\documentclass{article}\\usepackage{booktabs,longtable}\\begin{document}\n"
                       + table.read_text() + "\n\\end{document}\n")
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "one.tex"], cwd=work,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (table.name, proc.stdout[-2000:])


def test_latex_escape():
    assert latex_escape("a_b 50% & #1") == r"a\_b 50\% \& \#1"
    assert latex_escape("−1.0 ± 0.2") == r"$-$1.0 $\pm$ 0.2"
    assert latex_escape(r"{x}^~\ ") == r"\{x\}\textasciicircum{}\textasciitilde{}\textbackslash{} "


def test_failure_leaves_previous_report_intact(built, tmp_path, monkeypatch):
    folder, _ = built
    target = tmp_path / "rep"
    build_report(folder, target)
    before = (target / "report.md").read_text()
    n_figs = len(list((target / "figures").iterdir()))
    import harness.report.render as render

    def boom(*a, **k):
        raise RuntimeError("figure exploded")

    monkeypatch.setattr(render, "make_figures", boom)
    with pytest.raises(RuntimeError):
        build_report(folder, target)
    assert (target / "report.md").read_text() == before
    assert len(list((target / "figures").iterdir())) == n_figs
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_skips_figures_without_cross_or_avt(tmp_path):
    folder = make_fake_results(tmp_path / "res", grid=[("self", "A"), ("self", "AV")], n_folds=3, n_seeds=2,
                               n_utterances=300, write_history=False)
    report = build_report(folder, tmp_path / "rep")
    md = report.read_text()
    assert "Figure skipped — self vs cross bars: no successful cross-attention runs" in md
    assert "confusion matrices: no self or cross runs on AVT" in md
    assert "No modality combination has both self- and cross-attention runs" in md


def test_missing_or_malformed_runs_csv_is_a_user_error(tmp_path):
    folder = tmp_path / "res"
    folder.mkdir()
    with pytest.raises(UserError, match=re.escape(str(folder / "runs.csv"))):
        build_report(folder, tmp_path / "rep")
    (folder / "runs.csv").write_text("")
    with pytest.raises(UserError, match="runs.csv is empty"):
        build_report(folder, tmp_path / "rep")
    (folder / "runs.csv").write_text("run_id,model,fold\nx,self,1\n")
    with pytest.raises(UserError, match=r"runs.csv lacks column\(s\)"):
        build_report(folder, tmp_path / "rep")
    write_hand_made(folder, _hand_rows())
    text = (folder / "runs.csv").read_text().splitlines()
    text[1] = text[1].replace(",ok,", ",okay,")
    (folder / "runs.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(UserError, match="'status' allows 'ok' or 'failed'"):
        build_report(folder, tmp_path / "rep")
    assert not (tmp_path / "rep").exists()


def test_fake_results_layout(tmp_path):
    folder = make_fake_results(tmp_path / "f", n_runs=28, n_utterances=500)
    runs = pd.read_csv(folder / "runs.csv")
    assert len(runs) == 28 and runs.model.nunique() == 5  # whole (fold, seed) blocks first
    assert "timing only" in (folder / "study.yaml").read_text().lower()
    rid = runs.run_id[0]
    with np.load(folder / "runs" / rid / "predictions.npz") as npz:
        assert npz["test_proba"].shape[1] == 7
        y, p = npz["test_y_true"], npz["test_y_pred"]
    assert runs.test_accuracy[0] == pytest.approx(np.mean(y == p))
    assert (folder / "runs" / rid / "history.csv").is_file()
    assert len(json.loads((folder / "plan.json").read_text())["runs"]) == 28
