"""Generation: plan shards, run their sampled episodes on engines (here, in a helper process or on
dask), screen, label and write them, and keep a run resumable and locked.

`factory.run` and `factory.run_write_behind` are `runner.run` and `runner.run_write_behind`."""
