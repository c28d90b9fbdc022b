"""A report document: sections collected once, rendered to Markdown and to a standalone LaTeX file."""

from __future__ import annotations

from harness.report.render_text import Table, latex_escape, md_escape

LATEX_PREAMBLE = [
    r"\documentclass[10pt,a4paper]{article}",
    r"\usepackage[utf8]{inputenc}",
    r"\usepackage[margin=1.6cm]{geometry}",
    r"\usepackage{booktabs}",
    r"\usepackage{longtable}",
    r"\usepackage{graphicx}",
    r"\usepackage{float}",
    r"\usepackage{array}",
    r"\setlength{\parindent}{0pt}",
    r"\setlength{\parskip}{0.5em}",
]


class Document:
    """Collects sections once, renders them to Markdown and LaTeX (figures: objects with name, title, caption)."""

    def __init__(self):
        self.items: list[tuple] = []

    def section(self, title):
        self.items.append(("section", title))

    def para(self, text):
        self.items.append(("para", text))

    def bullets(self, lines):
        if lines:
            self.items.append(("bullets", list(lines)))

    def table(self, table: Table):
        self.items.append(("table", table))

    def figure(self, fig):
        self.items.append(("figure", fig))

    def facts(self, facts):
        self.items.append(("facts", facts))

    def code(self, text, lang=""):
        self.items.append(("code", text, lang))

    def markdown(self, title: str) -> str:
        out = [f"# {title}", ""]
        for item in self.items:
            kind = item[0]
            if kind == "section":
                out += [f"## {item[1]}", ""]
            elif kind == "para":
                out += [item[1], ""]
            elif kind == "bullets":
                out += [f"- {line}" for line in item[1]] + [""]
            elif kind == "table":
                t = item[1]
                out += [f"**Table: {t.title}.** {t.caption}".rstrip(), "", t.to_markdown(caption=False), ""]
            elif kind == "figure":
                f = item[1]
                out += [f"![{f.title}](figures/{f.name}.png)", "", f"*Figure: {f.title}.* {f.caption}", ""]
            elif kind == "facts":
                out += ["| | |", "| :--- | :--- |"]
                out += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in item[1]] + [""]
            elif kind == "code":
                out += [f"```{item[2]}", item[1].rstrip("\n"), "```", ""]
        return "\n".join(out)

    def latex(self, title: str) -> str:
        out = [*LATEX_PREAMBLE, rf"\title{{{latex_escape(title)}}}", r"\date{}", r"\begin{document}",
               r"\maketitle"]
        for item in self.items:
            kind = item[0]
            if kind == "section":
                out.append(rf"\section*{{{latex_escape(item[1])}}}")
            elif kind == "para":
                out += [latex_escape(item[1]), ""]
            elif kind == "bullets":
                out += [r"\begin{itemize}"] + [rf"\item {latex_escape(line)}" for line in item[1]] + [r"\end{itemize}"]
            elif kind == "table":
                out.append(item[1].to_latex(placement="H"))
            elif kind == "figure":
                f = item[1]
                out += [r"\begin{figure}[H]", r"\centering",
                        rf"\includegraphics[width=\linewidth,height=0.42\textheight,keepaspectratio]"
                        rf"{{figures/{f.name}.pdf}}",
                        rf"\caption{{{latex_escape(f.title + '. ' + f.caption)}}}",
                        r"\end{figure}"]
            elif kind == "facts":
                out += [r"\begin{tabular}{@{}l>{\raggedright\arraybackslash}p{0.68\linewidth}@{}}", r"\toprule"]
                out += [rf"{latex_escape(k)} & {_latex_breakable(v)} \\" for k, v in item[1]]
                out += [r"\bottomrule", r"\end{tabular}", ""]
            elif kind == "code":
                text = "".join(ch if ord(ch) < 128 else "?" for ch in item[1])
                out += [r"{\footnotesize", r"\begin{verbatim}", text.rstrip("\n"), r"\end{verbatim}", "}"]
        out.append(r"\end{document}")
        return "\n".join(out) + "\n"


def _latex_breakable(value: str) -> str:
    return latex_escape(value).replace("/", r"/\allowbreak{}")  # long paths may wrap
