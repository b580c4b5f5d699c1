"""`backroom demo` and `backroom seed`: the demo run and the demo catalog it plays on.

`run` drives the demo end to end and `summary` reads its closing table from the database;
`seed` puts a deterministic demo catalog in, made by `rows` from the word lists in `words`.
Nothing outside the command line depends on this package.
"""
