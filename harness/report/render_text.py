"""Tiny Markdown and LaTeX (booktabs) renderers for report tables; no tabulate or jinja2 needed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DASH = "–"  # shown for a missing value

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    # OT1 text fonts have no < > |: set them in math
    "<": r"$<$", ">": r"$>$", "|": r"$|$",
}
_LATEX_UNICODE = {
    "±": r"$\pm$", "−": r"$-$", "Δ": r"$\Delta$", "→": r"$\rightarrow$", "≥": r"$\geq$", "≤": r"$\leq$",
    "α": r"$\alpha$", "×": r"$\times$", "≈": r"$\approx$", "–": "--", "—": "---", "·": r"$\cdot$",
    "’": "'", "‘": "`", "“": "``", "”": "''", "…": r"\dots{}", "≠": r"$\neq$", "⁻": r"$^{-}$",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in list(_LATEX_SPECIAL) + list(_LATEX_UNICODE)))


def latex_escape(text) -> str:
    """Escape LaTeX specials (_ % & # $ { } ~ ^ \\) and map the few non-ASCII symbols the report uses."""

    def sub(match):
        s = match.group(0)
        return _LATEX_SPECIAL.get(s) or _LATEX_UNICODE[s]

    return _LATEX_RE.sub(sub, str(text))


def md_escape(text) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


# ------------------------------------------------------------------------------------------ numbers
def finite(x) -> bool:
    try:
        return x is not None and bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


def fmt_pct(x, decimals: int = 1) -> str:
    return f"{100 * float(x):.{decimals}f}" if finite(x) else DASH


def fmt_pm(mean, sd, decimals: int = 1) -> str:
    if not finite(mean):
        return DASH
    return f"{fmt_pct(mean, decimals)} ± {fmt_pct(sd, decimals)}" if finite(sd) else fmt_pct(mean, decimals)


def fmt_pp(x, decimals: int = 1) -> str:
    """A difference in percentage points with its sign (a true minus sign; 0.0 unsigned)."""
    if not finite(x):
        return DASH
    text = f"{100 * float(x):+.{decimals}f}"
    return "0." + "0" * decimals if text.lstrip("+-") == "0." + "0" * decimals else text.replace("-", "−")


def fmt_p(p) -> str:
    if not finite(p):
        return DASH
    return "<0.001" if p < 0.001 else f"{float(p):.3f}"


def fmt_num(x, decimals: int = 2) -> str:
    return f"{float(x):.{decimals}f}" if finite(x) else DASH


def fmt_int(x) -> str:
    return str(int(x)) if finite(x) else DASH


def fmt_coverage(c) -> str:
    """0.95 -> '95%', 0.9375 -> '93.8%'."""
    if not finite(c):
        return ""
    text = f"{100 * float(c):.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def fmt_duration(seconds) -> str:
    if not finite(seconds):
        return DASH
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


@dataclass
class Table:
    """One report table: numeric `data` (traceable values) and the string `display` frame that is rendered.

    `display` has plain string cells; its columns may be a two-level MultiIndex (group, column).
    The first `n_label_cols` columns are left-aligned labels, the rest right-aligned numbers.
    """

    name: str
    title: str
    data: pd.DataFrame
    display: pd.DataFrame
    caption: str = ""
    footnotes: list[str] = field(default_factory=list)
    n_label_cols: int = 1
    long: bool = False
    wrap_last: str = ""  # LaTeX width of the last column as a wrapped paragraph (e.g. "0.3\\linewidth")

    # ------------------------------------------------------------------ markdown
    def _header_cells(self) -> list[str]:
        cells = []
        for col in self.display.columns:
            if isinstance(col, tuple):
                parts = [str(p) for p in col if str(p)]
                cells.append(" ".join(parts))
            else:
                cells.append(str(col))
        return cells

    def to_markdown(self, heading_level: int = 0, caption: bool = True) -> str:
        lines = []
        if heading_level:
            lines += ["#" * heading_level + " " + self.title, ""]
        if caption and self.caption:
            lines += [self.caption, ""]
        head = self._header_cells()
        lines.append("| " + " | ".join(md_escape(h) for h in head) + " |")
        aligns = [":---" if i < self.n_label_cols else "---:" for i in range(len(head))]
        lines.append("| " + " | ".join(aligns) + " |")
        for row in self.display.itertuples(index=False):
            lines.append("| " + " | ".join(md_escape(v) for v in row) + " |")
        for note in self.footnotes:
            lines += ["", f"*Note:* {note}"]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ latex
    def _latex_header(self) -> list[str]:
        cols = list(self.display.columns)
        if cols and isinstance(cols[0], tuple) and len(cols[0]) == 2:
            top, rules, start = [], [], 0
            groups: list[tuple[str, int]] = []
            for group, _ in cols:
                if groups and groups[-1][0] == group:
                    groups[-1] = (group, groups[-1][1] + 1)
                else:
                    groups.append((group, 1))
            for group, span in groups:
                if group and span > 1:
                    top.append(rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(group)}}}")
                    rules.append(rf"\cmidrule(lr){{{start + 1}-{start + span}}}")
                elif group:
                    top.append(rf"\multicolumn{{1}}{{c}}{{{latex_escape(group)}}}")
                    rules.append(rf"\cmidrule(lr){{{start + 1}-{start + 1}}}")
                else:
                    top += [""] * span
                start += span
            second = [latex_escape(c) for _, c in cols]
            return [" & ".join(top) + r" \\", " ".join(rules), " & ".join(second) + r" \\"]
        return [" & ".join(latex_escape(c if not isinstance(c, tuple) else " ".join(c)) for c in cols) + r" \\"]

    def to_latex(self, placement: str = "htbp", label_prefix: str = "tab:") -> str:
        ncol = self.display.shape[1]
        spec = "l" * self.n_label_cols + "r" * (ncol - self.n_label_cols)
        if self.wrap_last:  # long prose in the last column wraps instead of running off the page
            spec = spec[:-1] + rf">{{\raggedright\arraybackslash}}p{{{self.wrap_last}}}"
        caption = latex_escape(self.title + (". " + self.caption if self.caption else ""))
        label = label_prefix + self.name.replace("_", "-")
        header = self._latex_header()
        body = [" & ".join(latex_escape(v) for v in row) + r" \\" for row in self.display.itertuples(index=False)]
        notes = [r"\footnotesize " + latex_escape("Note: " + n) for n in self.footnotes]
        out = []
        if self.long:
            out += [r"{\scriptsize", r"\setlength{\tabcolsep}{2pt}", rf"\begin{{longtable}}{{{spec}}}",
                    rf"\caption{{{caption}}}\label{{{label}}}\\", r"\toprule", *header, r"\midrule", r"\endfirsthead",
                    rf"\multicolumn{{{ncol}}}{{l}}{{\emph{{(continued)}}}}\\", r"\toprule", *header, r"\midrule",
                    r"\endhead", r"\bottomrule", r"\endlastfoot", *body, r"\end{longtable}", "}"]
            if notes:
                out += [r"\par", *[n + r"\par" for n in notes]]
            return "\n".join(out) + "\n"
        out += [rf"\begin{{table}}[{placement}]", r"\centering", rf"\caption{{{caption}}}\label{{{label}}}",
                r"\small",
                rf"\begin{{tabular}}{{{spec}}}", r"\toprule", *header, r"\midrule", *body, r"\bottomrule",
                r"\end{tabular}"]
        if notes:
            out += [r"\par\smallskip", r"\begin{minipage}{0.95\linewidth}", *[n + r"\par" for n in notes],
                    r"\end{minipage}"]
        out.append(r"\end{table}")
        return "\n".join(line for line in out if line != "") + "\n"

    def to_latex_file(self) -> str:
        """The table alone, pasteable into a paper (needs booktabs; longtable for long tables)."""
        pkgs = "booktabs" + (", longtable" if self.long else "") + (", array" if self.wrap_last else "")
        return f"% {self.title}\n% Generated by harness; needs \\usepackage{{{pkgs}}}\n" + self.to_latex()
