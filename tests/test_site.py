"""The course site builds from the committed notebooks, and a reader finds what it promises.

One build per module (``python -m sphinx -b html site <tmp>``, as README.md documents, with
warnings as errors), then:

* every lesson (``tutorials/NN_*.ipynb``) and notebook (``notebooks/NN_*.ipynb``) has a page, found by
  glob: a lesson added later needs no edit of the site; each page carries Binder and Colab launch
  links to its own path in the repository read from ``pyproject.toml``, and its references;
* the pages show the committed outputs: as many figures as the notebook stores PNG outputs, and a
  stored text output verbatim (nothing is executed: the build starts no kernel);
* the glossary defines the course's acronyms, the syllabus covers 13–14 weeks, the instructor
  guide holds the checkers' hints (read here from the checkers' module with a regular expression,
  independently of the site's AST reader) and the lessons' timing section;
* in a real browser (headless Chromium driven by Playwright, as ``tests/test_browser_explorer.py``;
  skipped where either is missing): from the index, the navigation leads to a lesson whose figure
  is drawn.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from html import unescape
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
LESSONS = sorted((ROOT / "tutorials").glob("[0-9]*.ipynb"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
CHROMIUM = os.environ.get("SRSUPM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTEFACTS = ROOT / "runs" / "browser"
GLOSSARY_TERMS = ("PMSA", "PMSD", "PMSID", "PMSIM", "PMI", "SIC", "MOPE", "MOTE", "MAR", "QR-IQL", "IQ-Learn",
                  "NCIS", "leave-one-out", "full ranking", "sampled ranking")

pytest.importorskip("sphinx", reason="the site needs the dev extra's sphinx, myst-nb, sphinx-book-theme")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built site's html folder (a fresh build into a temporary folder)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
                           "-d", str(out / "doctrees"), str(SITE), str(out / "html")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the site does not build cleanly:\n{done.stderr[-6000:]}"
    return out / "html"


def _page(site: Path, source: Path) -> str:
    page = site / source.parent.name / f"{source.stem}.html"
    assert page.exists(), f"no page for {source.relative_to(ROOT)}"
    return page.read_text(encoding="utf-8")


def _text(html: str) -> str:
    """The words of a page, with Sphinx's typographic quotes made plain again."""
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    return " ".join(text.translate(str.maketrans("‘’“”", "''\"\"")).replace("…", "...").split())


def _png_outputs(notebook: Path) -> int:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return sum("image/png" in out.get("data", {}) for cell in nb["cells"] if cell["cell_type"] == "code"
               for out in cell.get("outputs", []))


def _course_site():
    sys.path.insert(0, str(SITE / "_ext"))
    try:
        import course_site
    finally:
        sys.path.remove(str(SITE / "_ext"))
    return course_site


def test_the_hint_reader_on_a_known_checker(tmp_path):
    source = tmp_path / "checks.py"
    source.write_text(
        "def check_x(answer, k):\n"
        "    if answer < 0:\n        hint = 'never negative.'\n"
        "    elif answer > k:\n        hint = f'a hit is a rank below {k}: rank {k + 1} is out.'\n"
        "    else:\n        hint = ('one ' 'two') + f' three {k}'\n"
        "    hints = {1: 'a dict hint.', 2: 'never negative.'}\n"
        "    return say_wrong('x', 'said in the call.')\n"
        "def helper():\n    hint = 'not a checker'\n")
    assert _course_site().checker_hints(source) == {"check_x": [
        "never negative.", "a hit is a rank below k: rank … is out.", "one two three k", "a dict hint.",
        "said in the call."]}
    lesson = tmp_path / "03_lesson.md"
    lesson.write_text("**Exercise 3.1.** Do it.\n```\nchecks.check_x(answer, 5)\n```\n"
                      "**Exercise 3.2.** Again.\nchecks.check_y(answer)\n")
    assert _course_site().checker_exercises([lesson]) == {"check_x": ("03_lesson", "3.1"),
                                                          "check_y": ("03_lesson", "3.2")}


def test_a_page_gets_its_references_unless_it_cites_on_its_own():
    course_site = _course_site()
    plain = {"cells": [{"cell_type": "markdown", "source": ["# A lesson"]}], "metadata": {}}
    added = json.loads(course_site._with_references(json.dumps(plain).encode(), ["kang2018sasrec"], depth=1))
    assert len(added["cells"]) == 2 and "{footcite:t}`kang2018sasrec`" in added["cells"][-1]["source"]
    assert "(../references.md)" in added["cells"][-1]["source"]
    own = {"cells": [{"cell_type": "markdown", "source": ["```{bibliography}\n```"]}], "metadata": {}}
    data = json.dumps(own).encode()
    assert course_site._with_references(data, ["kang2018sasrec"], depth=1) == data
    reading = course_site.reading_list(SITE)
    keys = set(re.findall(r"^@\w+\{([^,]+),", (SITE / "references.bib").read_text(encoding="utf-8"), flags=re.M))
    cited = {k for folder in reading.values() for ks in folder.values() for k in ks}
    assert cited <= keys, f"reading.toml names keys references.bib lacks: {cited - keys}"


def test_there_are_lessons_and_notebooks_to_publish():
    assert len(LESSONS) >= 8 and len(NOTEBOOKS) >= 9


@pytest.mark.parametrize("source", LESSONS + NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_lesson_and_notebook_has_a_page_with_launch_links_and_references(site, source):
    html = _page(site, source)
    org_repo = REPOSITORY.removeprefix("https://github.com/").strip("/")
    path = f"{source.parent.name}/{source.name}"
    assert f'https://mybinder.org/v2/gh/{org_repo}/main?urlpath=lab/tree/{path}"' in html
    assert f'https://colab.research.google.com/github/{org_repo}/blob/main/{path}"' in html
    assert 'id="references"' in html, "no References section: list the page's papers in site/reading.toml"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert f'href="{source.parent.name}/{source.stem}.html"' in index, "not in the index's navigation"


@pytest.mark.parametrize("source", LESSONS + NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_pages_show_every_committed_figure(site, source):
    html = _page(site, source)
    cell_images = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', html)
    assert len(cell_images) >= _png_outputs(source), \
        f"{source.name} stores {_png_outputs(source)} figures, its page shows {len(cell_images)}"
    for src in re.findall(r'<img[^>]+src="([^"]*_images/[^"]+\.png)"', html):
        assert (site / source.parent.name / src).resolve().stat().st_size > 1000, src


def test_pages_show_the_committed_text_outputs(site):
    """A stored stdout line of a notebook appears on its page as it is (the outputs were not recomputed)."""
    for source in NOTEBOOKS:
        nb = json.loads(source.read_text(encoding="utf-8"))
        lines = [line.strip() for cell in nb["cells"] if cell["cell_type"] == "code"
                 for out in cell.get("outputs", []) if out.get("name") == "stdout"
                 for line in "".join(out["text"]).splitlines() if len(line.strip()) > 20]
        if lines:
            assert " ".join(lines[0].split()) in _text(_page(site, source)), source.name
            return
    pytest.fail("no notebook stores a stdout line to compare")


def test_the_glossary_defines_the_courses_terms(site):
    html = (site / "glossary.html").read_text(encoding="utf-8")
    defined = {_text(t) for t in re.findall(r'<dt id="term-[^"]*">(.*?)<a class="headerlink"', html, flags=re.S)}
    missing = [t for t in GLOSSARY_TERMS if t not in defined]
    assert not missing, f"the glossary does not define {missing}"


def test_the_syllabus_maps_13_to_14_weeks_onto_the_map(site):
    text = _text((site / "syllabus.html").read_text(encoding="utf-8"))
    weeks = [int(w) for w in re.findall(r"<tr[^>]*>\s*<td[^>]*><p>(\d+)</p></td>",
                                        (site / "syllabus.html").read_text(encoding="utf-8"))]
    assert weeks == list(range(1, len(weeks) + 1)) and 13 <= len(weeks) <= 14, weeks
    for chapter in ("Conventional", "Long sequences", "Several behaviour types", "Side information",
                    "Industrial practices", "Reinforcement learning", "Large language models"):
        assert chapter in text, chapter
    assert "to come" in text and "lesson 9" in text.lower()


def _hints_by_regex() -> list[str]:
    """Plain (not f-) string hints of the lessons' checkers, read with a regular expression."""
    sources = sorted((ROOT / "srsupm_lab" / "course" / "checks").glob("*.py"))
    source = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    return re.findall(r'^\s+hint = "([^"{}\\]+)"$', source, flags=re.M)


def test_the_instructor_guide_holds_the_checkers_hints_and_the_timings(site):
    text = _text((site / "instructor_guide.html").read_text(encoding="utf-8"))
    hints = _hints_by_regex()
    assert len(hints) >= 20
    missing = [h for h in hints if " ".join(h.split()) not in text]
    assert not missing, f"hints missing from the instructor guide: {missing[:5]}"
    assert "How long each lesson runs" in text and "bench_lessons" in text
    reports = sorted((ROOT / "reports").glob("bench_lessons_*.txt"))
    if reports:                                                    # the newest measured table is shown
        first_row = next(line for line in reports[-1].read_text().splitlines() if line.startswith("| `"))
        assert first_row.split("|")[1].strip(" `") in text


def test_the_references_list_the_papers_with_the_withdrawal(site):
    text = _text((site / "references.html").read_text(encoding="utf-8"))
    for title in ("Sequential Recommender System Based on User Psychological Motivation", "Mental Reward Models",
                  "Motivation-Aware User-Item Interaction", "Session-based recommendations with recurrent",
                  "Self-attentive sequential recommendation", "BERT4Rec", "Lighter and better",
                  "Personalized top-n sequential recommendation", "User behavior modeling with deep learning"):
        assert title.lower() in text.lower(), title
    assert "Withdrawn" in text and "17 Apr 2026" in text


# ------------------------------------------------------------------------------------- in a browser
@pytest.fixture
def served(site):
    """The built site over HTTP on 127.0.0.1 (a free port), as a reader's browser gets it."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_reader_follows_the_navigation_to_a_lesson_and_sees_its_figure(served):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's: apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="the Python package 'playwright' is not installed")
    from playwright.sync_api import expect, sync_playwright

    illustrated = [p for p in LESSONS if _png_outputs(p) > 0]
    assert illustrated, "no committed lesson stores a figure (tutorials/NN_*.ipynb hold no image/png output)"
    lesson = illustrated[0]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(served, timeout=30_000)
            link = page.locator(f'nav a[href="tutorials/{lesson.stem}.html"]').first
            expect(link).to_be_visible(timeout=10_000)
            link.click()
            page.wait_for_url(f"**/tutorials/{lesson.stem}.html", timeout=20_000)
            figure = page.locator(".cell_output img").first
            figure.scroll_into_view_if_needed(timeout=10_000)
            expect(figure).to_be_visible(timeout=10_000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=figure.element_handle(),
                                   timeout=10_000)
            assert page.locator('a[href*="colab.research.google.com"]').count() >= 1
            figure.screenshot(path=str(ARTEFACTS / "site_lesson_figure.png"))
        finally:
            browser.close()
    assert (ARTEFACTS / "site_lesson_figure.png").stat().st_size > 2_000
