"""Move CHECK constraints out of CreateModel into AddConstraint operations.

tortoise 1.1's CreateModel ignores the `constraints` option, so a new
table would silently lack its CHECKs. `make migrations` runs this on the
newest migration: `python -m models.migration_checks <file>`.
"""

import re
import sys
from pathlib import Path

CREATE = re.compile(r"ops\.CreateModel\(\n\s+name='(\w+)',.*?options=\{(.*?)\},\n\s+bases", re.S)
CHECK = re.compile(r"CheckConstraint\(check=(?:'[^']*'|\"[^\"]*\"), name='\w+'\)")


def rewrite(source: str) -> str:
    adds = [
        f"        ops.AddConstraint(model_name='{name}', constraint={check}),\n"
        for name, options in CREATE.findall(source)
        for check in CHECK.findall(options)
    ]
    if not adds:
        return source
    source = re.sub(r"'constraints': \[[^\]]*\], ", "", source).rstrip()
    assert source.endswith("]"), "unexpected migration layout"
    note = "        # CreateModel leaves CHECK constraints out of the table; add them explicitly.\n"
    return source[:-1].rstrip() + "\n" + note + "".join(adds) + "    ]\n"


if __name__ == "__main__":
    for name in sys.argv[1:]:
        path = Path(name)
        path.write_text(rewrite(path.read_text()))
