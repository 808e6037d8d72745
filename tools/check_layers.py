#!/usr/bin/env python3
"""Fails when a file under src/<layer>/ includes a project header from a layer it may not use.

The allowed dependencies are in src/layers.txt. Run as the ctest `layering`:
    python3 tools/check_layers.py [SRC_DIR]
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"')


def main() -> int:
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[1] / "src")
    allowed = {}
    for line in (src / "layers.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            layer, _, deps = line.partition(":")
            allowed[layer.strip()] = set(deps.split()) | {layer.strip()}
    errors = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".hpp", ".cpp"):
            continue
        layer = path.relative_to(src).parts[0]
        if layer not in allowed:
            errors.append(f"{path}: folder '{layer}' is not a layer in src/layers.txt")
            continue
        for number, text in enumerate(path.read_text().splitlines(), 1):
            match = INCLUDE.match(text)
            if match and match.group(1) in allowed and match.group(1) not in allowed[layer]:
                errors.append(f"{path}:{number}: layer '{layer}' may not include '{match.group(1)}/'")
    for error in errors:
        print(error)
    print(f"layering: {len(errors)} violation(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
