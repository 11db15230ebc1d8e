"""Benchmarks for TaskFlow at city scale: data generator, HTTP load driver, runner (`make bench`)."""
