"""python3 -m xai_client: the same as the console script xai-py (xai_client.cli)."""

from xai_client.cli import main

raise SystemExit(main())
