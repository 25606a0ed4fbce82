"""Write the OpenAPI document the server serves at agnes/v1/openapi.json to a file (or stdout).

The document is loaded through ``agnes_server.openapi`` rather than read from openapi.yaml, so the
``$NAME`` placeholders are filled in exactly as the server fills them (patterns from the code that
enforces them, the installed connector types). ``scripts/gen-api.js`` feeds this JSON to
openapi-typescript to write ``src/schema.d.ts``.

    python scripts/write_openapi_json.py [OUT.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    try:
        from agnes_server.openapi import openapi_document
    except ImportError as exc:
        print(
            f"cannot import agnes_server ({exc}): run this with the project's Python "
            "(e.g. PYTHON=.venv/bin/python jlpm gen:api after `pip install -e .`)",
            file=sys.stderr,
        )
        return 2
    doc = openapi_document("/")
    # The version only labels the document; keep the generated types independent of it.
    doc["info"]["version"] = "0"
    text = json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    if len(argv) > 1:
        Path(argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
