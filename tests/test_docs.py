"""The documentation works offline (issue 12): no page loads anything from another host.

``test_conf_*`` read docs/conf.py and always run. ``test_built_*`` check the pages of a
built site (``make docs``) and are skipped when there is none: CI runs ``make test``.
"""

import re
import runpy
import warnings
from pathlib import Path

import pytest

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
