"""What a dataset says about itself: a physics certificate measured from its data, per-episode state
hashes, and a dataset card for people and the Hugging Face Hub (written by every run, redone by
`factory card`)."""
