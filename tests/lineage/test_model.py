import duckdb

from lineage import model


def test_sql_key_builders_spell_keys_like_the_python_ones() -> None:
    args = ["'github.com/acme/w'", "'src/a b.py'", "'ab12'"]
    pairs = [
        (
            model.file_version_key.sql(*args),
            model.file_version_key("github.com/acme/w", "src/a b.py", "ab12"),
        ),
        (
            model.file_at_commit_key.sql(*args),
            model.file_at_commit_key("github.com/acme/w", "src/a b.py", "ab12"),
        ),
        (model.dataset_version_key.sql("'d'", "'v1'"), model.dataset_version_key("d", "v1")),
        (model.shard_key.sql("'d'", "'v1'", "'s0'"), model.shard_key("d", "v1", "s0")),
        (model.example_key.sql("'d'", "'v1'", "'e:1'"), model.example_key("d", "v1", "e:1")),
        (model.output_key.sql("'toolu_1'"), model.output_key("toolu_1")),
        (model.session_key.sql("'s1'"), model.session_key("s1")),
    ]
    con = duckdb.connect()
    for sql, key in pairs:
        assert con.execute(f"SELECT {sql}").fetchone()[0] == key
