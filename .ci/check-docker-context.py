#!/usr/bin/env python3
"""Check the Docker build context without a Docker engine.

Every source of a COPY/ADD from the context must exist and must not be
excluded by .dockerignore (Docker's rules: patterns in order, the last
matching one wins, `!` re-includes, `**` spans directories); the model files
that artifacts/model.json checksums must reach the image; the ENV/EXPOSE/
HEALTHCHECK/USER settings the deployment relies on must be present.
"""

import json
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ignore_patterns():
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        pattern = pattern.strip("/")
        patterns.append((negate, pattern))
    return patterns


def pattern_regex(pattern):
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    # A pattern matching a directory excludes everything below it.
    return re.compile(out + "(?:/.*)?$")


def excluded(rel, patterns):
    state = False
    for negate, pattern in patterns:
        if pattern_regex(pattern).match(rel):
            state = not negate
    return state


def main():
    patterns = ignore_patterns()
    errors = []
    lines = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    copied = []
    text = "\n".join(lines)
    for line in lines:
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        for src in args[:-1]:
            copied.append(src.rstrip("/"))
    for src in copied:
        path = ROOT / src
        if not path.exists():
            errors.append(f"COPY source {src} does not exist")
            continue
        files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        sent = [f for f in files if not excluded(f.relative_to(ROOT).as_posix(), patterns)]
        if not sent:
            errors.append(f"COPY source {src} is entirely excluded by .dockerignore")
        elif path.is_file() and not sent:
            errors.append(f"COPY source {src} is excluded by .dockerignore")
        print(f"ok   COPY {src}: {len(sent)} file(s) in the build context" if sent else f"FAIL COPY {src}")

    model = json.loads((ROOT / "artifacts/model.json").read_text())
    for name in list(model.get("files", {})) + ["model.json"]:
        rel = f"artifacts/{name}"
        if not (ROOT / rel).is_file() or excluded(rel, patterns):
            errors.append(f"{rel} (checksummed by model.json) would not reach the image")
    for rel in ("data/tpch.sql", "data/capture.json", "Cargo.lock", "src/main.rs"):
        if excluded(rel, patterns):
            errors.append(f"{rel} is excluded by .dockerignore")
    for rel in ("target/release/qlat", ".git/HEAD", "data/slow_log.json", "artifacts/eval/eval.json"):
        if not excluded(rel, patterns):
            errors.append(f"{rel} should be excluded by .dockerignore")

    required = {
        "ENV QLAT_ADDR=0.0.0.0:8080": r"QLAT_ADDR=0\.0\.0\.0:8080",
        "ENV QLAT_DATABASE_URL=sqlite:///var/lib/qlat/qlat.db": r"QLAT_DATABASE_URL=sqlite:///var/lib/qlat/qlat\.db",
        "EXPOSE 8080": r"^EXPOSE 8080$",
        "VOLUME /var/lib/qlat": r"^VOLUME /var/lib/qlat$",
        'HEALTHCHECK CMD ["qlat", "healthcheck"]': r'^HEALTHCHECK .*CMD \["qlat", "healthcheck"\]',
        "STOPSIGNAL SIGTERM": r"^STOPSIGNAL SIGTERM$",
        "non-root USER": r"^USER (?!root|0\b)",
        "runtime FROM debian:*-slim": r"^FROM debian:\$\{DEBIAN_RELEASE\}-slim|^FROM debian:[a-z0-9.]+-slim",
    }
    for what, regex in required.items():
        if not re.search(regex, text, re.M):
            errors.append(f"Dockerfile lacks {what}")
    if errors:
        for e in errors:
            print(f"FAIL {e}", file=sys.stderr)
        return 1
    print(f"ok   Dockerfile settings present; {len(model.get('files', {}))} model files reach the image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
