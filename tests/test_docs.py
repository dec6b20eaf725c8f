"""The documentation works offline (issue 12): no page loads anything from another host.

``test_conf_*`` read docs/conf.py and always run. ``test_built_*`` check the pages of a
built site (``make docs``) and are skipped when there is none: CI runs ``make test``.
"""

import importlib.util
import re
import runpy
import sys
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import ConvergenceWarning

from skvae import VAETransformer

DOCS = Path(__file__).resolve().parents[1] / "docs"
BUILT = DOCS / "_build" / "html"

# A script, style sheet or font fetched from another host: src/href to http(s):// or a
# protocol-relative //host, and CSS @import / url() of one.
_REMOTE = re.compile(
    r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^"'\s>]*\.(?:js|css|woff2?|ttf)\b"""
    r"""|<link\b(?=[^>]*\brel\s*=\s*["']?(?:stylesheet|preload|modulepreload))"""
    r"""[^>]*\bhref\s*=\s*["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?(?:https?:)?//"""
    r"""|\burl\(\s*["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def _remote(value):
    return bool(re.match(r"(?:https?:)?//", str(value).strip(), re.IGNORECASE))


@pytest.fixture(scope="module")
def conf():
    with warnings.catch_warnings():  # conf.py adds a warnings filter; keep it local
        return runpy.run_path(str(DOCS / "conf.py"))


def test_remote_pattern():
    assert _REMOTE.search('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/x.js">')
    assert _REMOTE.search("<script defer src='//cdn.example.org/a.js'></script>")
    assert _REMOTE.search('<link href="https://cdn.datatables.net/a.css" rel="stylesheet" />')
    assert _REMOTE.search('<link rel="stylesheet" href="https://fonts.example.com/css2?f=x">')
    assert not _REMOTE.search('<script defer src="_static/mathjax/tex-svg-full.js"></script>')
    assert not _REMOTE.search('<a href="https://skorch.readthedocs.io">skorch</a>')
    assert not _REMOTE.search('<link rel="canonical" href="https://example.org/page.html">')


def test_conf_math_renders_offline(conf):
    """Formulas are rendered by a MathJax shipped with the site, or as images."""
    extensions = conf["extensions"]
    if "sphinx.ext.imgmath" in extensions:
        return
    assert "sphinx.ext.mathjax" in extensions
    path = conf.get("mathjax_path")
    assert path, "mathjax_path must be set: Sphinx's default loads MathJax from a CDN"
    assert not _remote(path) and "://" not in path, f"mathjax_path {path!r} is remote"
    served = [DOCS / static / path for static in conf.get("html_static_path", [])]
    assert any(p.is_file() for p in served), f"{path} is in none of html_static_path"
    # No MathJax configuration that points its loader at another host.
    for key in ("mathjax3_config", "mathjax4_config", "mathjax_config", "mathjax2_config"):
        assert "//" not in repr(conf.get(key) or {}), f"{key} names a remote path"


def test_conf_no_remote_assets(conf):
    for key in ("html_js_files", "html_css_files"):
        for item in conf.get(key, []):
            name = item[0] if isinstance(item, tuple | list) else item
            assert not _remote(name), f"{key} loads {name} from another host"
    theme_options = repr(conf.get("html_theme_options", {}))
    assert "cdn" not in theme_options.lower()


def test_conf_no_gallery_execution_times_page(conf):
    """sphinx-gallery writes sg_execution_times pages with jQuery/DataTables from CDNs."""
    gallery = conf["sphinx_gallery_conf"]
    assert gallery.get("write_computation_times") is False
    assert not gallery.get("binder") and not gallery.get("jupyterlite")


def _pages():
    if not BUILT.is_dir():
        pytest.skip(f"no built docs at {BUILT}: run `make docs` first (CI runs `make test`)")
    pages = sorted(BUILT.rglob("*.html"))
    if not pages:
        pytest.skip(f"{BUILT} holds no HTML pages")
    return pages


def test_built_pages_load_nothing_remote():
    offenders = []
    for page in _pages():
        text = page.read_text(encoding="utf-8", errors="replace")
        for match in _REMOTE.finditer(text):
            snippet = text[match.start():match.start() + 120].splitlines()[0]
            offenders.append(f"{page.relative_to(BUILT)}: {snippet}")
    assert not offenders, (
        "pages load resources from other hosts (offline they break); rebuild with "
        "`make docs` if this build is old:\n" + "\n".join(offenders[:20])
    )


def test_built_css_loads_nothing_remote():
    _pages()
    offenders = [str(css.relative_to(BUILT)) for css in sorted(BUILT.rglob("*.css"))
                 if re.search(r"""(?:@import|url\()\s*["']?(?:url\()?\s*["']?(?:https?:)?//""",
                              css.read_text(encoding="utf-8", errors="replace"), re.I)]
    assert not offenders, f"style sheets that fetch from other hosts: {offenders}"


def test_built_math_page_uses_local_mathjax():
    _pages()
    page = BUILT / "vae.html"
    if not page.is_file():
        pytest.skip("vae.html was not built")
    text = page.read_text(encoding="utf-8")
    assert r"\mathrm{KL}" in text  # the loss formula is on the page, for MathJax to render
    scripts = re.findall(r"""<script\b[^>]*\bsrc\s*=\s*["']([^"']*mathjax[^"']*)""", text, re.I)
    assert scripts, "vae.html loads no MathJax: its formulas would show as raw LaTeX"
    for src in scripts:
        assert not _remote(src)
        assert (page.parent / src.split("?")[0]).is_file(), f"{src} is not in the built site"


# -- the gallery shows no warnings (issue 30) --------------------------------------
def _gallery_warnings():
    path = DOCS / "gallery_warnings.py"
    spec = importlib.util.spec_from_file_location("gallery_warnings", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_conf_gallery_examples_run_with_warnings_as_errors(conf):
    """The hook that fails an example on a warning is installed, as a name (the parallel
    build's workers import it), before and after each example."""
    gallery = conf["sphinx_gallery_conf"]
    assert "gallery_warnings.strict_warnings" in gallery["reset_modules"]
    assert gallery["reset_modules_order"] == "both"
    assert str(DOCS) in sys.path  # conf.py put it there, so the name imports


def test_gallery_hook_turns_a_convergence_warning_into_an_error(digits):
    hook = _gallery_warnings().strict_warnings
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        before = list(warnings.filters)
        hook({}, "plot_x.py", when="before")
        try:
            vae = VAETransformer(max_iter=4, tol=0.0, random_state=0, device="cpu")
            with pytest.raises(ConvergenceWarning, match="max_iter=4 epochs ended"):
                vae.fit(digits[0][:200])
            assert not hasattr(vae, "net_")  # the fit failed: the example fails
            with pytest.raises(UserWarning):
                warnings.warn("any other warning, too", UserWarning, stacklevel=1)
            # An example about a warning catches it, and shows it where it prints it.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                warnings.warn("shown", ConvergenceWarning, stacklevel=1)
            assert [str(w.message) for w in caught] == ["shown"]
        finally:
            hook({}, "plot_x.py", when="after")
        assert warnings.filters == before  # put back after the example


def test_built_gallery_shows_no_warnings():
    _pages()
    pages = sorted((BUILT / "auto_examples").glob("*.html"))
    if not pages:
        pytest.skip("no gallery in the built docs")
    shown = []
    for page in pages:
        text = re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))
        shown += [f"{page.name}: {m.group(0)[:120]}"
                  for m in re.finditer(r"\b[A-Z]\w*Warning: .*", text)]
    assert not shown, "the gallery shows warnings:\n" + "\n".join(shown)


# -- the pages agree with the code and with each other (issue 22.5) ------------------
ROOT = DOCS.parent

#: The one definition of ``score_samples`` every page uses (as plain text: markup and
#: line breaks are ignored).
SCORE_SAMPLES = (
    "score_samples returns, per row, an importance-weighted lower bound on log p(x) in nats "
    "(Burda et al. 2016) from n_importance_samples draws (default 10; 1 gives the ELBO); "
    "for a VAEClassifier the class is summed out."
)
#: Words that make a sentence about ``score_samples`` a definition of it.
_DEFINES = re.compile(r"ELBO|\bbound\b|log p\(x|likelihood|importance-weighted|\bnats\b"
                      r"|posterior draws", re.IGNORECASE)
#: Notes about the project's own history, which a user page has no use for.
_HISTORY = re.compile(
    r"\bthis session\b|\bwhen this was written\b|\bso far\b"
    r"|\bno GPU (?:has been|had been|was|were) (?:available|lent)|\bwas(?: not)? lent\b",
    re.IGNORECASE,
)
#: Saying that mixed precision does not exist (``precision='bf16-mixed'`` does).
_NO_PRECISION = re.compile(
    r"precision[^.]*\bnot (?:exposed|supported|available|offered)\b"
    r"|\bnot (?:exposed|supported|available|offered)\b[^.]*\bprecision"
    r"|\b(?:training|it) (?:always )?runs in float32\b(?! by default)",
    re.IGNORECASE,
)
#: Pages in files other branches own, with what is still to be changed there (strict:
#: once fixed, the mark must go).
_PENDING: dict = {}


def _user_pages():
    """README.md and the pages in docs/ (not the changelog: history is its subject)."""
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    return [page for page in pages if page.name != "changelog.md"]


def _plain(text):
    """Markdown as plain prose: roles and backticks dropped, whitespace collapsed."""
    text = re.sub(r"\{[\w:]+\}`~?(?:[\w]+\.)*(\w+)`", r"\1", text)  # {py:meth}`~a.b.c`: c
    return re.sub(r"\s+", " ", text.replace("`", "").replace("**", "")).strip()


def _sentences(text):
    """Sentences of the prose (a table row counts as one; headings are left out)."""
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.strip().splitlines()
        if not lines or lines[0].startswith("#"):
            continue
        if lines[0].startswith("|"):
            yield from (_plain(line) for line in lines)
            continue
        # Each list item on its own (items need not end with a full stop).
        for item in re.split(r"\n(?=\s*(?:[-*+]|\d+\.) )", paragraph):
            for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z(`{*])", item):
                yield _plain(sentence)


def _offences(kind, text):
    if kind == "history":
        return [s for s in _sentences(text) if _HISTORY.search(s)]
    if kind == "precision":
        return [s for s in _sentences(text) if _NO_PRECISION.search(s)]
    return [s for s in _sentences(text)
            if "score_samples" in s and _DEFINES.search(s) and SCORE_SAMPLES not in s]


def _cases():
    for kind in ("history", "precision", "score_samples"):
        for page in _user_pages():
            reason = _PENDING.get((kind, page.name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(kind, page, id=f"{kind}-{page.name}", marks=marks)


@pytest.mark.parametrize("kind, page", list(_cases()))
def test_user_pages_do_not_contradict_the_code(kind, page):
    """No notes about the project's history, no 'mixed precision is not exposed', and
    ``score_samples`` described only by the one definition."""
    offences = _offences(kind, page.read_text(encoding="utf-8"))
    assert not offences, f"{page.name} ({kind}):\n" + "\n".join(offences)


def test_the_contradiction_checks_catch_the_old_phrases():
    old = {
        "history": ["Not yet timed on a GPU: no GPU has been available to this project so far.",
                    "All runs: CPU only (**no GPU in this session**), torch 2.13.0.",
                    "**The GPU rows were not run in this session (no GPU was available).**"],
        "precision": ["- Mixed precision is not exposed either; training runs in float32."],
        "score_samples": [
            "`score_samples` reports the unweighted ELBO (`beta` plays no part in it), "
            "averaged over four\nfixed posterior draws, so the same rows always get the "
            "same scores.",
            "elbo = vae.score_samples(X)       # per-row ELBO in nats",
            "{py:meth}`~skvae.VAETransformer.score_samples` returns\neach row's ELBO, a "
            "log-likelihood bound that is high for typical rows.",
            "| `n_importance_samples` | 10 | draws per row in `score_samples` "
            "(importance-weighted `log p(x)`; 1 is the ELBO) |",
        ],
    }
    for kind, texts in old.items():
        for text in texts:
            assert _offences(kind, text), (kind, text)
    assert not _offences("precision", "`precision='32'` (default) trains in float32.")
    assert not _offences("history", "onto the CPU when no GPU is available")
    canonical = ("`score_samples` returns, per row, an importance-weighted lower bound on "
                 "`log p(x)` in nats\n(Burda et al. 2016) from `n_importance_samples` draws "
                 "(default 10; 1 gives the ELBO); for a\n`VAEClassifier` the class is summed "
                 "out. Higher is better.")
    assert not _offences("score_samples", canonical)


def test_score_samples_is_defined_where_it_is_introduced():
    for name in ("README.md", "vae.md", "classifier.md", "getting_started.md", "choosing.md"):
        page = ROOT / name if name == "README.md" else DOCS / name
        assert SCORE_SAMPLES in _plain(page.read_text(encoding="utf-8")), name


# -- sample outputs come from the current code (issue 30.2) --------------------------
#: The marker before a ```text block that shows what the ```python block above prints.
OUTPUT_MARK = "<!-- output of the code above: checked by tests/test_docs.py -->"
_CLOCK = re.compile(r"\d+:\d\d(?::\d\d)?")
_NUMBER = r"-?\d[\d.]*(?:e[-+]?\d+)?"


def _sample_blocks(text):
    """``(code, output)`` of each marked sample on a page."""
    pattern = re.compile(r"```python\n((?:(?!```).)*?)```\s*\n" + re.escape(OUTPUT_MARK)
                         + r"\s*\n```text\n(.*?)```", re.DOTALL)
    return pattern.findall(text)


def _line_pattern(line):
    """A documented output line as a regex: clocks and loss values may differ, an
    intermediate epoch number too (plain lines come every 10 s); all else is exact."""
    head, sep, rest = line.partition(" | ")
    epoch = re.match(r"(.*: epoch )(\d+)( of )(\d+)$", head)
    if epoch and epoch.group(2) not in ("1", epoch.group(4)):
        head_re = (re.escape(epoch.group(1)) + r"\d+" + re.escape(epoch.group(3))
                   + re.escape(epoch.group(4)))
    else:
        head_re = re.escape(head)
    if not sep:
        parts = re.split(f"({_CLOCK.pattern})", head)
        return "".join(r"\d+:\d\d(?::\d\d)?" if _CLOCK.fullmatch(p) else re.escape(p)
                       for p in parts) if _CLOCK.search(head) else head_re
    rest_re = re.sub(_NUMBER, "NUM", _CLOCK.sub("CLOCK", rest))
    rest_re = re.escape(rest_re).replace("NUM", _NUMBER).replace("CLOCK", _CLOCK.pattern)
    return head_re + re.escape(sep) + rest_re


def _progress_line(line):
    return bool(re.match(r"[\w-]+: epoch \d+", line))


def check_sample(documented, printed):
    """Problems between a documented sample output and what the code printed."""
    problems = []
    lines = [line for line in documented.splitlines() if line.strip()]
    position = 0
    for line in lines:
        if line.strip() == "...":
            continue
        pattern = re.compile(_line_pattern(line) + "$")
        epoch = re.match(r".*: epoch (\d+) of (\d+) \|", line)
        if epoch and epoch.group(1) not in ("1", epoch.group(2)):
            # Which epochs get a line in between depends on the clock: this one's shape
            # (stage, total, loss parts) must be printed, any epoch number.
            if not any(pattern.match(p) for p in printed):
                problems.append(f"documented, no such line printed: {line}")
            continue
        for k in range(position, len(printed)):
            if pattern.match(printed[k]):
                position = k + 1
                break
        else:
            problems.append(f"documented, not printed (in this order): {line}")
    shown = [re.compile(_line_pattern(line) + "$") for line in lines if line.strip() != "..."]
    for line in printed:  # every line but the epoch lines is documented
        if not _progress_line(line) and not any(p.match(line) for p in shown):
            problems.append(f"printed, not documented: {line}")
    return problems


def test_check_sample_catches_a_stale_output():
    printed = ["skvae fit: model shared-m2, 1 stage (shared-M2 100 epochs x 128 rows) on 10 "
               "rows, cpu, 1 thread",
               "shared-M2: training for 100 epochs",
               "shared-M2: epoch 1 of 100 | loss 3.1 (kl 0.2) | 0:00 elapsed, 0:09 left",
               "shared-M2: epoch 57 of 100 | loss 1.5 (kl 0.3) | 0:05 elapsed, 0:04 left",
               "shared-M2: epoch 100 of 100 | loss 1.2 (kl 0.4) | 0:09 elapsed, 0:00 left",
               "shared-M2: done, 100 epochs in 0:09."]
    good = "\n".join([printed[0], printed[1],
                      "shared-M2: epoch 1 of 100 | loss 2.9 (kl 0.25) | 0:01 elapsed, 0:11 left",
                      "shared-M2: epoch 61 of 100 | loss 1.4 (kl 0.3) | 0:10 elapsed, 0:07 left",
                      "...", "shared-M2: done, 100 epochs in 0:17."])
    assert check_sample(good, printed) == []
    stale = good.replace("shared-M2", "M1").replace("100 epochs x", "267 epochs x")
    assert len(check_sample(stale, printed)) >= 4
    assert check_sample(good.replace("(kl", "(kl2"), printed)  # a term renamed
    assert check_sample(good, [*printed, "a new line"])  # a line the page does not show


def _samples():
    for page in _user_pages():
        for number, (code, output) in enumerate(_sample_blocks(page.read_text())):
            yield pytest.param(code, output, id=f"{page.name}-{number}")


def test_the_pages_have_marked_samples():
    assert len(list(_samples())) >= 1


@pytest.mark.parametrize("code, output", list(_samples()))
def test_sample_output_comes_from_the_current_code(code, output, capsys):
    """Each marked sample output is what its code prints now (losses and clocks aside)."""
    exec(compile(code, "<docs sample>", "exec"), {"__name__": "__docs__"})
    printed = capsys.readouterr().out.splitlines()
    problems = check_sample(output, printed)
    assert not problems, (
        "a sample output in the docs is stale: run its code and paste what it prints\n"
        + "\n".join(problems) + "\n--- printed:\n" + "\n".join(printed))
