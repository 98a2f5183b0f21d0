"""Sphinx configuration of the course site.

Build (from the repository root; nothing is executed, the committed outputs are rendered):

    python -m sphinx -b html site site/_build/html

Sphinx + MyST-NB + sphinx-book-theme: pure Python packages, installed by the ``dev`` extra
(Jupyter Book 2 needs Node.js for its ``mystmd`` engine). ``_ext/course_site.py`` copies the
lessons, notebooks and docs in before Sphinx reads them (see its docstring for why a copy).
"""
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))

_project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

project = "srsupm_lab: a course on motivation-aware sequential recommendation"
author = "the srsupm_lab contributors"
release = version = _project["version"]
REPOSITORY = _project["urls"]["Repository"]

extensions = ["myst_nb", "sphinxcontrib.bibtex", "course_site"]

# what is read: the site's own pages and the copies course_site makes (the lessons' jupytext .md twins,
# solutions/ and the rest of assignments/ are never copied in)
exclude_patterns = ["_build", "_ext", "_generated", "README.md", "Thumbs.db", ".DS_Store"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# MyST-NB: render the outputs stored in the notebooks; never run a kernel
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "amsmath", "substitution"]
myst_heading_anchors = 3

# references: BibTeX, author-year in the text
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"
bibtex_foot_reference_style = "foot"

html_theme = "sphinx_book_theme"
html_title = "srsupm_lab course"
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "",              # a page's name is its path in the repository (course_site mirrors it)
    "use_repository_button": True,
    "use_issues_button": False,
    "use_download_button": True,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",          # builds environment.yml, which installs the package
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    },
    "show_toc_level": 2,
}
