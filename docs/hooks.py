"""mkdocs hook: links from a page under docs/ to other files of the repository.

The topic pages link to files outside docs/ (``../clusters/README.md``,
``../notebooks/01_quickstart.ipynb``) so that they work where the repository is browsed.
mkdocs only knows the files under docs/ and would report those links as missing. This hook
checks each such link against the repository and, when the target exists, turns it into a
link to the file in the source repository (``repo_url`` in mkdocs.yml) or, without one, into
the repository path as code. A link whose target does not exist is left alone, so mkdocs
still reports it.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

LINK = re.compile(r"(?<!!)\[([^\]]+)\]\((\.\./[^)#\s]+)(#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs = Path(config["docs_dir"]).resolve()
    root = docs.parent
    here = (docs / page.file.src_path).parent
    base = (config.get("repo_url") or "").rstrip("/")
    branch = config.get("extra", {}).get("source_branch", "main")

    def rewrite(m: re.Match[str]) -> str:
        text, target, anchor = m.group(1), m.group(2), m.group(3) or ""
        path = (here / target).resolve()
        if docs in path.parents or not path.is_relative_to(root) or not path.exists():
            return m.group(0)  # inside docs/ (mkdocs checks it) or missing (mkdocs reports it)
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if base:
            return f"[{text}]({base}/blob/{branch}/{rel}{anchor})"
        return f"`{rel}`" if text.strip("`") == str(rel) else f"{text} (`{rel}`)"

    return LINK.sub(rewrite, markdown)
