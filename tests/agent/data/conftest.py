# Fixture projects live here: the tests run pytest inside them, each under its own
# configuration; Drover's own test run must not collect them.
collect_ignore_glob = ["*"]
