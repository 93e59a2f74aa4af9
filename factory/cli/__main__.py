"""`python -m factory.cli` is the `factory` command."""

from factory.cli import main

raise SystemExit(main())
