"""`factory report`: checks, a trained baseline model and its evaluation, rendered as HTML + JSON."""
