"""Mutation fuzzing of every reader of outside bytes: ``engine`` (the mutations, and a runner that
reads each input in a worker subprocess, so a crash or a hang is seen as such), ``formats`` (the
raw formats and the dataset adapters' parsing) and ``shards`` (shards, index files and event
records as training reads them). The test suite runs a short campaign;
``scripts/fuzz_formats.py`` a long one. A developer adding a raw format adds its target here."""
