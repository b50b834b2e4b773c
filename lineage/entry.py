"""The `lineage` console script. `lineage capture` runs inside every agent tool call, so it is
dispatched before the CLI's heavy imports (DuckDB, Arrow, the engine) are paid for."""

import sys


def main() -> int:
    argv = sys.argv[1:]
    if (
        argv[:1] == ["capture"]
        and len(argv) >= 2
        and argv[1] in ("claude-code", "codex")
        and "-h" not in argv
        and "--help" not in argv
    ):
        from lineage.capture import main as capture_main

        rest = argv[2:]

        def option(name: str) -> str | None:
            i = rest.index(name) if name in rest else -1
            return rest[i + 1] if 0 <= i < len(rest) - 1 else None

        return capture_main(argv[1], option("--spool"), option("--server"), option("--token"))
    from lineage.cli import main as cli_main

    return cli_main(argv)
