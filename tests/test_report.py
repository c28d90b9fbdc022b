"""Report: reads a results folder and stats.json (contract schema), recomputes nothing, states the verdict
only from the primary analysis (`headline`), builds atomically."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from harness.report import build_report
from harness.report.conclusion import conclusion
from harness.report import names
from harness.report.render import load_inputs
from harness.report.render_text import latex_escape
from harness.report.stats_tables import description_table, secondary_tables
from harness.report.tables import accounting_table, main_table, models_table, per_fold_table

CLASSES = ("neg", "neu", "pos")


# ------------------------------------------------------------------------------------------ fixtures
@dataclass(frozen=True)
class Folder:
    """Stands in for harness.table.ResultsFolder: the same fields and methods, built in memory."""

    dir: Path
    study: object
    study_text: str
    runs: pd.DataFrame
    plan: pd.DataFrame | None
    stats: dict | None = None
    problems: tuple = ()
    notes: tuple = ()
    preds: dict = field(default_factory=dict)
    fingerprint: str | None = "0123abcd"

    def result(self, run_id):
        return {"harness_version": "0.1.0", "torch_version": "2.13.0"}

    def predictions(self, run_id):
        return self.preds.get(run_id)

    def history(self, run_id):
        return pd.DataFrame({"epoch": [1, 2, 3], "dev_accuracy": [0.4, 0.5, 0.55]})

    def stats_json(self):
        return self.stats


def make_study(models=("self", "cross"), folds=(1, 2, 3), seeds=(1, 2), fmt="synthetic", figures=False):
    """Stands in for a parsed Study (only the fields the report reads)."""
    return SimpleNamespace(
        name="hand-made", models=tuple(models), folds=tuple(folds), seeds=tuple(seeds),
        data=SimpleNamespace(format=fmt, path="data/x", classes=CLASSES, labels=""),
        stats=SimpleNamespace(alpha=0.05, correction="holm", equivalence_margin=0.01, primary=None),
        report=SimpleNamespace(paper_values="auto", figures=figures))


def make_runs(grid, folds, seeds, skill) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for (model, mod), fold, seed in itertools.product(grid, folds, seeds):
        base = 0.5 + skill.get(model, 0.0) + 0.02 * fold
        rows.append({"run_id": f"{model}-{mod}-{fold}-{seed}", "model": model, "modalities": mod, "fold": fold,
                     "seed": seed, "status": "ok", "epochs": 10 + seed, "best_epoch": 5, "device": "cpu",
                     "train_seconds": 10.0 * fold, "n_train": 900, "n_test": 300,
                     "test_accuracy": round(base + rng.normal(0, 0.01), 4),
                     "test_balanced_accuracy": round(base - 0.05 + rng.normal(0, 0.01), 4)})
    return pd.DataFrame(rows)


def row(a, b, mods, metric, unit, test, **kw) -> dict:
    """One stats.json row in the contract's schema (estimate = b − a)."""
    base = {"family": "comparisons", "comparison": f"{a} vs {b}", "metric": metric, "a": f"{a}:{mods}",
            "b": f"{b}:{mods}", "model_a": a, "modalities_a": mods, "model_b": b, "modalities_b": mods,
            "unit": unit, "test": test, "role": "secondary", "n": 3, "statistic": 1.0, "pvalue": 0.2,
            "pvalue_adj": 0.4, "estimate": 0.01, "ci_low": -0.01, "ci_high": 0.03, "ci_method": "t",
            "ci_coverage": 0.95, "effect_size": None, "effect_name": "", "p_left": None, "p_rope": None,
            "p_right": None, "equivalent": None, "significant": None, "n_significant": None,
            "min_attainable_p": None, "note": ""}
    return {**base, **kw}


def headline(a, b, mods, estimate, lo, hi, verdict, p_adj=0.41, reason="", n=3, metric="balanced_accuracy"):
    return {"family": "comparisons", "comparison": f"{a} vs {b}", "a": a, "b": b, "modalities": mods,
            "metric": metric, "unit": "fold",
            "test": "paired_t", "n": n, "estimate": estimate, "ci_low": lo, "ci_high": hi, "ci_method": "t",
            "p_adj": p_adj, "verdict": verdict, "reason": reason}


def summaries_of(runs: pd.DataFrame) -> list[dict]:
    """`summaries` as the stats stage writes them (here: described with pandas)."""
    out = []
    for (model, mods), g in runs.groupby(["model", "modalities"]):
        for metric in ("accuracy", "balanced_accuracy"):
            v = g[f"test_{metric}"]
            out.append({"model": model, "modalities": mods, "metric": metric, "n_runs": len(v),
                        "n_folds": g["fold"].nunique(), "mean": v.mean(), "sd": v.std(ddof=1),
                        "ci_low": v.mean() - 0.02, "ci_high": v.mean() + 0.02, "ci_method": "t"})
    return out


def make_stats(heads, rows, runs, ranks=(), meta=None) -> dict:
    meta = {"alpha": 0.05, "correction": "holm", "margin": 0.01, "n_folds": int(runs["fold"].nunique()),
            "n_seeds": int(runs["seed"].nunique()),
            "primary": {"metric": "balanced_accuracy", "unit": "fold", "test": "paired_t"}, **(meta or {})}
    return {"version": 2, "meta": meta, "notes": [], "excluded": {}, "rows": list(rows), "headline": list(heads),
            "summaries": summaries_of(runs), "ranks": list(ranks)}


def self_cross_folder(tmp_path, heads, rows=(), **kw) -> Folder:
    runs = make_runs([("self", "AVT"), ("cross", "AVT"), ("self", "AV"), ("cross", "AV")], (1, 2, 3), (1, 2),
                     {"cross": 0.03})
    prim = [row(h["a"], h["b"], h["modalities"], h["metric"], "fold", "paired_t", role="primary",
                estimate=h["estimate"], ci_low=h["ci_low"], ci_high=h["ci_high"], pvalue_adj=h["p_adj"],
                **kw.get("primary_extra", {})) for h in heads]
    return Folder(tmp_path / "results" / "hand-made", make_study(), "name: hand-made\n", runs,
                  runs[["run_id", "model", "modalities", "fold", "seed"]],
                  make_stats(heads, prim + list(rows), runs, meta=kw.get("meta")))


def sentences(folder) -> list[str]:
    return [text for _, group in conclusion(load_inputs(folder))[1] for text in group]


# ------------------------------------------------------------------------------------------ conclusion
def test_headline_sentence_is_written_from_the_headline_alone(tmp_path):
    h = headline("self", "cross", "AVT", -0.006, -0.021, 0.009, "no_difference_detected")
    # a secondary test that "rejects" must not leak into the verdict
    loud = row("self", "cross", "AVT", "balanced_accuracy", "run", "wilcoxon", pvalue=1e-6, pvalue_adj=1e-5,
               significant=True)
    folder = self_cross_folder(tmp_path, [h], [loud])
    [text] = sentences(folder)
    assert text == (f"AVT, balanced accuracy (WA): cross − self = −0.6 pp (95% t CI over 3 fold means −2.1 to +0.9; "
                    f"{names.test_label('paired_t')} on fold means, Holm-adjusted p = 0.410): no difference detected.")
    intro, _ = conclusion(load_inputs(folder))
    assert "Primary analysis, declared in the study before the runs" in intro


def test_flipping_a_and_b_flips_the_sentence(tmp_path):
    fwd = headline("self", "cross", "AVT", 0.03, 0.01, 0.05, "b_better", p_adj=0.01)
    rev = headline("cross", "self", "AVT", -0.03, -0.05, -0.01, "a_better", p_adj=0.01)
    [s_fwd] = sentences(self_cross_folder(tmp_path / "f", [fwd]))
    [s_rev] = sentences(self_cross_folder(tmp_path / "r", [rev]))
    assert "cross − self = +3.0 pp" in s_fwd and "+1.0 to +5.0" in s_fwd
    assert "self − cross = −3.0 pp" in s_rev and "−5.0 to −1.0" in s_rev
    winner = f": {names.model_label('cross')} scores higher."
    assert s_fwd.endswith(winner) and s_rev.endswith(winner)
    loser = headline("self", "cross", "AVT", -0.03, -0.05, -0.01, "a_better", p_adj=0.01)
    [s_lose] = sentences(self_cross_folder(tmp_path / "l", [loser]))
    assert s_lose.endswith(f": {names.model_label('self')} scores higher.")


def test_a_test_that_cannot_reach_alpha_says_so_in_the_verdict(tmp_path):
    reason = "cannot reach alpha: the smallest attainable p with 3 folds is 0.25"
    h = headline("self", "cross", "AVT", 0.05, 0.01, 0.09, "no_difference_detected", p_adj=0.25, reason=reason)
    [text] = sentences(self_cross_folder(tmp_path / "a", [h]))
    assert text.endswith(f": no difference detected ({reason}).")
    # no reason given, but the primary row records a floor above alpha: the sentence says it
    h2 = headline("self", "cross", "AVT", 0.05, 0.01, 0.09, "no_difference_detected", p_adj=0.25)
    [text2] = sentences(self_cross_folder(tmp_path / "b", [h2], primary_extra={"min_attainable_p": 0.25}))
    assert "(the test cannot reach α = 0.05 with n = 3: its smallest attainable p is 0.25)." in text2
    # no p-value and no estimate at all (e.g. a fold-unit primary on one split): said, never a number
    why = "the primary test gave no p-value (not available: one fixed split)"
    h3 = headline("self", "cross", "AVT", None, None, None, "no_difference_detected", p_adj=None, reason=why)
    [text3] = sentences(self_cross_folder(tmp_path / "c", [h3]))
    assert text3 == (f"AVT, balanced accuracy (WA): cross − self has no estimate from {names.test_label('paired_t')} "
                     f"on fold means: no difference detected ({why}).")


def test_secondary_analyses_are_labelled_and_bayes_is_qualified(tmp_path):
    h = headline("self", "cross", "AVT", 0.01, -0.01, 0.03, "no_difference_detected")
    bayes = row("self", "cross", "AVT", "balanced_accuracy", "run", "bayes_signrank", n=6, pvalue=None,
                pvalue_adj=None, p_left=0.0, p_rope=0.1, p_right=0.9)
    hl = row("self", "cross", "AVT", "balanced_accuracy", "run", "wilcoxon", n=6, ci_method="hodges_lehmann",
             ci_coverage=0.875)
    folder = self_cross_folder(tmp_path, [h], [bayes, hl])
    md = build_report(folder, tmp_path / "rep").read_text()
    sec = md.split("## Secondary and sensitivity analyses")[1].split("\n## ")[0]
    assert "none of them is a verdict" in sec and "AVT, balanced accuracy (WA), cross − self (comparisons), secondary:" in sec
    assert f"P({names.model_label('cross')} practically better) = 0.90" in sec and "a description, not a verdict" in sec
    assert "(signed-rank (Hodges-Lehmann), 87.5%)" in sec  # the interval's method and actual coverage
    concl = md.split("## Conclusion")[1].split("\n## ")[0]
    assert "bayes" not in concl.lower() and "wilcoxon" not in concl.lower()


# ------------------------------------------------------------------------------------------ tables
def test_mcnemar_is_a_description_without_a_verdict_column(tmp_path):
    h = headline("self", "cross", "AVT", 0.01, -0.01, 0.03, "no_difference_detected")
    mc = row("self", "cross", "AVT", "accuracy", "utterance", "mcnemar_pooled", role="description", n=900,
             pvalue=0.003, pvalue_adj=None, significant=True, note="n01 = 40 (a right, b wrong), n10 = 75")
    folder = self_cross_folder(tmp_path, [h], [mc])
    data = load_inputs(folder)
    desc = description_table(data.stats)
    assert "Sig." not in desc.display.columns and "Verdict" not in desc.display.columns
    cells = desc.display.iloc[0]
    assert cells["n"] == "900" and cells["p"] == "0.003" and "n10 = 75" in cells["Counts"]
    for t in secondary_tables(data.stats, data.margin):
        assert "Sig." not in t.display.columns and not (t.data["test"].str.startswith("mcnemar")).any()
    md = build_report(folder, tmp_path / "rep").read_text()
    assert "| Sig." not in md and "does not test whether the two architectures differ" in md


def test_tables_read_summaries_and_fall_back_to_the_runs(tmp_path):
    h = headline("self", "cross", "AVT", 0.01, -0.01, 0.03, "no_difference_detected")
    folder = self_cross_folder(tmp_path, [h])
    folder.stats["summaries"][0]["mean"] = 0.987  # cross:AV accuracy, as the stats stage would have said
    cell = main_table(load_inputs(folder)).data.set_index(["model", "modalities", "metric"])
    assert cell.loc[("cross", "AV", "accuracy"), "mean"] == 0.987
    no_stats = Folder(folder.dir, folder.study, "", folder.runs, folder.plan, None)
    data = load_inputs(no_stats)
    g = folder.runs[(folder.runs.model == "cross") & (folder.runs.modalities == "AV")]
    cell = main_table(data).data.set_index(["model", "modalities", "metric"]).loc[("cross", "AV", "accuracy")]
    assert cell["mean"] == pytest.approx(g.test_accuracy.mean()) and cell["sd"] == pytest.approx(g.test_accuracy.std())
    pf = per_fold_table(data, "accuracy").data.set_index(["model", "modalities"])
    assert pf.loc[("cross", "AV"), "fold_2"] == pytest.approx(g[g.fold == 2].test_accuracy.mean())
    acct = accounting_table(data).data.set_index("model")
    assert acct.loc["all", "ok"] == len(folder.runs) and acct.loc["all", "total_train_seconds"] == pytest.approx(
        folder.runs.train_seconds.sum())
    assert "no comparison is concluded" in conclusion(data)[0]


def test_published_values_beside_ours_only_for_iemocap(tmp_path):
    h = headline("self", "cross", "AVT", 0.01, -0.01, 0.03, "no_difference_detected")
    synthetic = self_cross_folder(tmp_path / "s", [h])
    iemocap = Folder(synthetic.dir, make_study(fmt="iemocap_yoon"), "", synthetic.runs, synthetic.plan, synthetic.stats)
    assert "paper" not in " ".join(map(str, main_table(load_inputs(synthetic)).display.columns))
    table = main_table(load_inputs(iemocap))
    row = table.display[table.display[("", "Modalities")] == "AVT"].iloc[0]
    self_label, cross_label = names.model_label("self"), names.model_label("cross")
    assert row[(self_label, "WA paper")] == "58.7" and row[(self_label, "UWA paper")] == "64.2"
    assert row[(cross_label, "WA paper")] == "57.8" and "arXiv 2202.09263" in table.to_markdown()


def test_user_models_and_declared_comparisons_render(tmp_path):
    runs = make_runs([("self", "AVT"), ("cross", "AVT"), ("late", "AVT"), ("late", "AT"), ("self", "AT")],
                     (1, 2, 3), (1, 2), {"late": 0.05})
    heads = [headline("self", "late", "AVT", 0.05, 0.03, 0.07, "b_better", p_adj=0.01),
             headline("self", "late", "AT", 0.05, 0.02, 0.08, "b_better", p_adj=0.02),
             headline("cross", "late", "AVT", 0.04, 0.01, 0.07, "b_better", p_adj=0.03)]
    rows = [row(h["a"], h["b"], h["modalities"], "balanced_accuracy", "fold", "paired_t", role="primary")
            for h in heads]
    rows.append(row("late", "cross", "AVT", "balanced_accuracy", "fold", "nemenyi", pvalue_adj=0.01))
    ranks = [{"modalities": "AVT", "metric": "balanced_accuracy", "unit": "fold", "models": ["self", "cross", "late"],
              "average_ranks": [2.7, 2.3, 1.0], "n_blocks": 3, "q_alpha": 2.343, "critical_difference": 1.91}]
    folder = Folder(tmp_path / "res", make_study(models=("self", "cross", "late"), figures=True), "", runs,
                    runs[["run_id", "model", "modalities", "fold", "seed"]], make_stats(heads, rows, runs, ranks))
    report = build_report(folder, tmp_path / "rep")
    md = report.read_text()
    for text in ("AVT, balanced accuracy (WA): late − self = +5.0 pp", "AT, balanced accuracy (WA): late − self",
                 "AVT, balanced accuracy (WA): late − cross = +4.0 pp", ": late scores higher."):
        assert text in md, text
    assert "| late WA (%) |" in md  # main table column group named after the user model
    models = models_table(load_inputs(folder), "AVT")
    assert list(models.data.drop_duplicates("model").model) == ["self", "cross", "late"]
    figs = {p.stem for p in (report.parent / "figures").glob("*.png")}
    assert {"main", "paired_differences", "models_AVT", "critical_difference_AVT_balanced_accuracy_fold"} <= figs
    assert "Nemenyi pairs apart: late vs cross" in md


def test_single_split_header_and_unavailable_fold_tests(tmp_path):
    runs = make_runs([("self", "AVT"), ("cross", "AVT")], (1,), (1, 2, 3, 4), {"cross": 0.02})
    h = dict(headline("self", "cross", "AVT", 0.02, 0.0, 0.04, "no_difference_detected", n=4), unit="run")
    rows = [row("self", "cross", "AVT", "balanced_accuracy", "fold", "paired_t", n=1, pvalue=None, pvalue_adj=None,
                estimate=None, ci_low=None, ci_high=None, note="not available: one fixed split (1 fold)")]
    corpus = {"format": "mmsa", "name": "CMU-MOSI", "labels": "acc2", "split_sizes": {"train": 1284, "valid": 229,
              "test": 686}, "class_counts": {"negative": 379, "non-negative": 307}, "dropped": {"train": 12, "test": 3}}
    folder = Folder(tmp_path / "res", make_study(folds=(1,), seeds=(1, 2, 3, 4), fmt="mmsa"), "", runs, None,
                    make_stats([h], rows, runs, meta={"corpus": corpus, "n_folds": 1, "primary_note": (
                        "the primary analysis is the paired t over the seeds of the one split")}))
    md = build_report(folder, tmp_path / "rep").read_text()
    assert "| Corpus | CMU-MOSI (format 'mmsa'), labels 'acc2' |" in md
    assert "| Split sizes | train 1,284, valid 229, test 686 |" in md
    assert "| Classes | negative 379, non-negative 307 |" in md
    assert "| Utterances dropped by the label rule | train 12, test 3 |" in md
    assert "one fixed split × 4 seeds" in md and "fold-unit tests are not available" in md
    assert "Note: the primary analysis is the paired t over the seeds of the one split." in md
    assert (f"Not available: {names.test_label('paired_t')} (fold means), 1 row(s): not available: one fixed split" in md)


def test_header_shows_a_relative_results_path(tmp_path, monkeypatch):
    h = headline("self", "cross", "AVT", 0.01, -0.01, 0.03, "no_difference_detected")
    folder = self_cross_folder(tmp_path, [h])
    folder.dir.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    md = build_report(folder, tmp_path / "rep").read_text()
    assert "| Results folder | results/hand-made |" in md and str(tmp_path) not in md


# ------------------------------------------------------------------------------------------ the build
def _check_latex(text: str) -> None:
    body = re.sub(r"\\begin\{verbatim\}.*?\\end\{verbatim\}", "", text, flags=re.S)
    body = body.replace(r"\{", "").replace(r"\}", "")
    depth = 0
    for ch in body:
        depth += (ch == "{") - (ch == "}")
        assert depth >= 0
    assert depth == 0
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+\*?)\}", text):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, env
    assert not stack
    for line in body.splitlines():  # specials escaped outside comments
        assert not re.search(r"(?<!\\)[%#]", line.split("%")[0] if line.startswith("%") else line), line


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    heads = [headline("self", "cross", m, 0.02, -0.01, 0.05, "no_difference_detected") for m in ("AVT", "AV")]
    folder = self_cross_folder(base, heads, [row("self", "cross", "AVT", "accuracy", "utterance", "mcnemar_pooled",
                                                 role="description", note="n01 = 4, n10 = 9 50% & #1")])
    preds = {rid: {"test_y_true": np.array([0, 1, 2, 2]), "test_y_pred": np.array([0, 1, 1, 2])}
             for rid in folder.runs.run_id}
    study = make_study(figures=True)
    folder = Folder(folder.dir, study, "name: hand_made # 100%\n", folder.runs, folder.plan, folder.stats, preds=preds)
    return folder, build_report(folder, base / "reports" / "study")


def test_report_files_and_latex(built, tmp_path):
    _, report = built
    out = report.parent
    md = report.read_text()
    # class counts: the saved test labels of one run per fold ([0, 1, 2, 2] here), summed over the 3 folds
    assert "| Classes | neg, neu, pos (test utterances: neg 3, neu 3, pos 6 in the 3 folds' test sets) |" in md
    for piece in ("## Conclusion", "## Statistical tests", "Primary analysis", "Run accounting", "```yaml"):
        assert piece in md, piece
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert {"main.png", "paired_differences.png", "confusion_AVT.png", "learning_curves.png"} <= set(pngs)
    for png in pngs:
        assert (out / "figures" / png).with_suffix(".pdf").is_file() and f"figures/{png}" in md
    assert {"main.tex", "primary.tex", "descriptions.tex", "accounting.tex"} <= {p.name for p in (out / "tables").glob("*.tex")}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folders left
    tex = (out / "report.tex").read_text()
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    _check_latex(tex)
    for table in (out / "tables").glob("*.tex"):
        _check_latex("\n".join(line for line in table.read_text().splitlines() if not line.startswith("%")))
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not on PATH: compilation not checked")
    work = tmp_path / "tex"
    shutil.copytree(out, work)
    for _ in range(2):  # twice, for longtable widths
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=work,
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stdout[-3000:]
    doc = work / "one.tex"
    for table in (out / "tables").glob("*.tex"):  # each table alone compiles with the packages it names
        packages = re.search(r"\\usepackage\{([^}]*)\}", table.read_text()).group(1)
        doc.write_text(f"\\documentclass{{article}}\\usepackage{{{packages}}}\\begin{{document}}\n"
                       + table.read_text() + "\n\\end{document}\n")
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "one.tex"], cwd=work,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (table.name, proc.stdout[-2000:])


def test_latex_escape():
    assert latex_escape("a_b 50% & #1") == r"a\_b 50\% \& \#1"
    assert latex_escape("−1.0 ± 0.2") == r"$-$1.0 $\pm$ 0.2"
    assert latex_escape(r"{x}^~\ ") == r"\{x\}\textasciicircum{}\textasciitilde{}\textbackslash{} "


def test_failure_leaves_previous_report_intact(tmp_path, monkeypatch):
    folder = self_cross_folder(tmp_path / "res", [headline("self", "cross", "AVT", 0.0, -0.01, 0.01,
                                                           "no_difference_detected")])
    target = tmp_path / "rep"
    build_report(folder, target)
    before = (target / "report.md").read_text()
    n_figs = len(list((target / "figures").iterdir()))
    import harness.report.render as render

    def boom(*a, **k):
        raise RuntimeError("table exploded")

    monkeypatch.setattr(render, "_tables", boom)
    with pytest.raises(RuntimeError):
        build_report(folder, target)
    assert (target / "report.md").read_text() == before
    assert len(list((target / "figures").iterdir())) == n_figs
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary folder left
