from lineage.loaders import patches
from lineage.loaders.patches import shell_writes


def test_shell_writes_are_found_in_short_and_in_huge_commands() -> None:
    assert [(w.path, w.lines, w.how) for w in shell_writes('echo "a b" > out.txt')] == [
        ("out.txt", ["a b"], "redirect")
    ]
    huge = "echo " + "x" * (patches.MAX_SHLEX_CHARS + 1) + " >> log.txt"
    (write,) = shell_writes(huge)  # split at whitespace, not read a character at a time
    assert (write.path, write.how, len(write.lines[0])) == (
        "log.txt",
        "redirect",
        patches.MAX_SHLEX_CHARS + 1,
    )


def test_a_heredoc_body_is_what_the_file_gets() -> None:
    (write,) = shell_writes("cat > src/a.py <<'EOF'\nimport os\nprint(os.getcwd())\nEOF")
    assert (write.path, write.lines, write.how) == (
        "src/a.py",
        ["import os", "print(os.getcwd())"],
        "heredoc",
    )
