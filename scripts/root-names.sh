#!/usr/bin/env bash
# The public names at the crate root, as rustdoc shows them (items and re-exports, modules
# included; #[doc(hidden)] test hooks excluded), with every feature on. Prints one name a line,
# then the count. Usage: scripts/root-names.sh [--count]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo doc -q --no-deps -p leakscope --all-features
doc=target/doc/leakscope
python3 - "$doc" "${1:-}" <<'PY'
import json, re, sys
doc, flag = sys.argv[1], sys.argv[2]
text = open(f"{doc}/sidebar-items.js").read()
items = json.loads(text[text.index("{"):text.rindex("}") + 1])
names = [(kind, n) for kind, ns in items.items() for n in ns]
index = open(f"{doc}/index.html").read()
names += [("reexport", n) for n in re.findall(r'<dt id="reexport\.([A-Za-z_0-9]+)"', index)]
if flag != "--count":
    for kind, n in sorted(names):
        print(f"{kind:9} {n}")
print(len(names))
PY
