"""Pin the image the Kubernetes manifests run: write its name and digest into the kustomization.

    python clusters/pin_image.py <registry>/fcast@sha256:<digest> [KUSTOMIZATION]

`make image` calls this with the digest the registry gave the pushed image. Only an immutable
reference (name@sha256:<64 hex>) is accepted: a tag can be moved to another build, and the job,
the Dask scheduler and the workers of one run must run the same build. Only the `newName:`
and `digest:` lines of the `images:` entry change; the comments stay.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

KUSTOMIZATION = Path(__file__).resolve().parent / "kubernetes" / "deploy" / "kustomization.yaml"
PLACEHOLDER = "registry.example.com/fcast"  # the name every manifest's image: uses
REFERENCE = re.compile(r"(?P<name>[a-z0-9][a-z0-9._\-/:]*[a-z0-9])@(?P<digest>sha256:[0-9a-f]{64})")


def pin(reference: str, kustomization: Path = KUSTOMIZATION) -> str:
    """Write `reference` into the `images:` entry for the placeholder; return the new text."""
    m = REFERENCE.fullmatch(reference.strip())
    if not m or ":" in m["name"].rsplit("/", 1)[-1]:  # name:tag@digest: drop the tag
        raise SystemExit(
            f"error: expected <registry>/<name>@sha256:<64 hex digits>, got {reference!r} "
            "(a tag is not an immutable reference)"
        )
    text = kustomization.read_text()
    entry = re.compile(
        rf"(- name: {re.escape(PLACEHOLDER)}\n)(\s+)newName: \S+\n\s+digest: \S+\n", re.M
    )
    if not entry.search(text):
        raise SystemExit(f"error: no images: entry for {PLACEHOLDER} in {kustomization}")
    new = entry.sub(
        lambda e: (
            f"{e.group(1)}{e.group(2)}newName: {m['name']}\n{e.group(2)}digest: {m['digest']}\n"
        ),
        text,
        count=1,
    )
    kustomization.write_text(new)
    return new


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    pin(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) == 3 else KUSTOMIZATION)
    print(f"pinned {sys.argv[1]}")
